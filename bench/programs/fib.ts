/** The CPU-bound function of the futures benchmark: naive Fibonacci. */
export const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2))
