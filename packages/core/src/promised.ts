/**
 * Runs `run` and hands back its answer as a promise: a value resolved, a promise as it is, a throw
 * rejected. The promise form of a function that answers synchronously where it can (a cached key,
 * a body already received), for callers that want one shape.
 *
 * @example
 * const body = await promised(() => readJsonBodyNow(request, 1_048_576));
 */
export function promised<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    const answer = run();
    return answer instanceof Promise ? answer : Promise.resolve(answer);
  } catch (error) {
    return Promise.reject(error);
  }
}
