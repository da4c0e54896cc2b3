/** What reading the archive through while it was written proved. */
export interface DumpInspection {
  /**
   * Length of the archive as pg_dump wrote it (before any zstd wrapper). No digest of these bytes is
   * needed: they are the very chunks the next stage consumes, the stored bytes' SHA-256 is taken after
   * that stage, and a zstd wrapper carries its own checksum of them (see run-dump.ts).
   */
  rawBytes: number;
  /** `pg_restore --list` of it. */
  listing: string;
  /**
   * For a zstd-wrapped archive: the bytes the stored stream decoded to while it was written, its frame
   * checksum checked (wrapper-check.ts). Equal to `rawBytes`, it proves the wrapper, and verification
   * then decodes only as much as `pg_restore --list` needs.
   */
  wrapperDecodedBytes?: number;
}
