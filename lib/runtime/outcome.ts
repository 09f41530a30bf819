/**
 * What a stage's business function returns for each order of a batch: a value to forward,
 * or a failure that is retried (transient) or dead-lettered at once (permanent).
 */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string; readonly permanent: boolean };

export const succeed = <T>(value: T): Outcome<T> => ({ ok: true, value });

/** A failure that may pass on retry (a sick dependency, a timeout). */
export const retry = (reason: string): Outcome<never> => ({ ok: false, reason, permanent: false });

/** A failure that retrying cannot fix (the order itself is unprocessable): dead-lettered at once. */
export const reject = (reason: string): Outcome<never> => ({ ok: false, reason, permanent: true });
