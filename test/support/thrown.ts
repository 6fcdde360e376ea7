/** The error `f` throws (fails the test when it throws nothing). */
export const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error("expected an error, nothing was thrown")
}
