/** Who is acting: a person or a token, for audit lines. */
export interface Actor {
  resourceId: string;
  /** Stable identity: `user:<heroku user id>` or `api_token:<token id>`; names and emails can repeat or change. */
  id: string;
  label: string;
  ip?: string | null;
}
