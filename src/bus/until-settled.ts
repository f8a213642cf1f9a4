/** Waits for `promise`, unless `signal` aborts first (then calls `onAbort` and returns at once). */
export function untilSettledOrAborted(promise: Promise<void>, signal: AbortSignal, onAbort: () => void): Promise<void> {
  if (signal.aborted) {
    onAbort();
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const abort = (): void => {
      onAbort();
      resolve();
    };
    signal.addEventListener('abort', abort, { once: true });
    void promise.finally(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    });
  });
}
