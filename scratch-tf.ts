import { create, globals } from "webgpu"
Object.assign(globalThis, globals)
const gpu = create([])
Object.defineProperty(globalThis.navigator, "gpu", { value: gpu, configurable: true })
const tf = await import("@tensorflow/tfjs-core")
await import("@tensorflow/tfjs-backend-webgpu")
console.log(await tf.setBackend("webgpu"), tf.getBackend())
const n = 256
const a = tf.randomUniform([n, n]); const b = tf.randomUniform([n, n])
for (let i = 0; i < 3; i++) { const t = performance.now(); const c = tf.matMul(a, b); await c.data(); console.log("matmul", performance.now() - t); c.dispose() }
const x = tf.randomUniform([1 << 20])
for (let i = 0; i < 3; i++) { const t = performance.now(); const s = tf.sum(x); await s.data(); console.log("sum", performance.now() - t); s.dispose() }
process.exit(0)
