// heroku-client ships no types; this declares the subset we use.
declare module 'heroku-client' {
  interface HerokuClientOptions {
    token?: string;
    host?: string;
    headers?: Record<string, string>;
    timeout?: number;
    partial?: boolean;
  }
  interface RequestOptions {
    body?: unknown;
    headers?: Record<string, string>;
    partial?: boolean;
  }
  /** Rejected with this on non-2xx answers. */
  export interface HerokuClientError extends Error {
    statusCode?: number;
    body?: unknown;
  }
  export default class Heroku {
    constructor(options?: HerokuClientOptions);
    get<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
    post<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
    put<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
    patch<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
    delete<T = unknown>(path: string, options?: RequestOptions): Promise<T>;
  }
}
