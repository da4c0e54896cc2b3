/**
 * Frees a buffer's memory now, rather than when V8 next collects the old generation (buffers live
 * outside the JS heap, and V8 starts that collection only after enough new external memory). Only a
 * buffer that is the whole of its own ArrayBuffer is freed: a slice of Node's shared 8 KiB pool or of
 * a larger buffer is left alone. The caller must hold the last reference: the buffer reads as empty
 * afterwards. Returns whether it freed anything.
 */
export function freeBuffer(buffer: Buffer): boolean {
  const backing = buffer.buffer;
  if (!(backing instanceof ArrayBuffer) || backing.detached) return false;
  if (buffer.byteOffset !== 0 || buffer.byteLength !== backing.byteLength) return false;
  try {
    backing.transfer(0);
  } catch {
    // Not detachable (a WebAssembly memory, an ArrayBuffer some API pinned): left to the collector.
    return false;
  }
  return true;
}
