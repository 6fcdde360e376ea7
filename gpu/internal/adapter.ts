/**
 * Acquiring a WebGPU adapter: `navigator.gpu` where a browser provides it,
 * Dawn through the `webgpu` package in Node. When none is found, the error
 * lists what was found and looked for.
 */
import { GpuUnavailable } from "../errors.ts"

export interface AdapterOptions {
  /** A substring of the adapter's name (Dawn's `adapter=` filter in Node; matched against the description in a browser). */
  readonly adapter?: string | undefined
  readonly powerPreference?: GPUPowerPreference | undefined
  /** Dawn's backend in Node: `vulkan` (Linux), `metal`, `d3d12`, … */
  readonly backend?: string | undefined
}

/** A `GPU` object and what must stay reachable with it. */
export interface Entry {
  readonly gpu: GPU
  /** True when the GPU object came from dawn.node (and must be kept reachable while a device lives). */
  readonly dawn: boolean
}

const ICD_DIRS = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"]

/** The Vulkan driver manifests the loader would read, and whether each exists. */
export const vulkanDrivers = (): Array<string> => {
  // Looked up at run time so that the module also loads in a browser.
  const fs = process.getBuiltinModule("node:fs")
  const out: Array<string> = []
  const env = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES
  if (env !== undefined && env !== "") {
    for (const f of env.split(":")) out.push(`${f} (from VK_ICD_FILENAMES/VK_DRIVER_FILES)${fs.existsSync(f) ? "" : ": missing"}`)
    return out
  }
  for (const dir of ICD_DIRS) {
    let names: Array<string>
    try {
      names = fs.readdirSync(dir).filter((n) => n.endsWith(".json"))
    } catch {
      out.push(`${dir}: no such folder`)
      continue
    }
    if (names.length === 0) out.push(`${dir}: empty`)
    for (const n of names) out.push(`${dir}/${n}`)
  }
  return out
}

const INSTALL =
  "On Debian or Ubuntu, install Mesa's Vulkan drivers (lavapipe runs WebGPU on the CPU): " +
  "`apt-get install mesa-vulkan-drivers` (version 25 or newer; on Debian 12 from bookworm-backports, see scripts/setup-system.sh). " +
  "For an NVIDIA GPU, install its driver with Vulkan support (the nvidia ICD file must be listed above)."

/** Describes an adapter in one line. */
export const describe = (a: GPUAdapter): string => {
  const i = a.info
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((s) => s !== undefined && s !== "")
  return parts.length > 0 ? parts.join(" / ") : "an unnamed adapter"
}

let dawnModule: Promise<{ create: (flags: Array<string>) => GPU; globals: object }> | undefined

/** Creates the GPU object: the browser's, or a fresh Dawn instance for these options. */
export const createGpu = async (options: AdapterOptions): Promise<Entry> => {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator
  if (nav?.gpu !== undefined) return { gpu: nav.gpu, dawn: false }
  dawnModule ??= import("webgpu") as never
  const dawn = await dawnModule
  // The WebGPU classes (GPUBufferUsage, GPUMapMode, …) as globals, as a browser has them.
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v
  const flags: Array<string> = []
  if (options.backend !== undefined) flags.push(`backend=${options.backend}`)
  if (options.adapter !== undefined) flags.push(`adapter=${options.adapter}`)
  return { gpu: dawn.create(flags), dawn: true }
}

/** The adapter for these options, or `GpuUnavailable` saying what was found. */
export const requestAdapter = async (entry: Entry, options: AdapterOptions): Promise<GPUAdapter | GpuUnavailable> => {
  const request: GPURequestAdapterOptions = options.powerPreference === undefined ? {} : { powerPreference: options.powerPreference }
  let adapter: GPUAdapter | null = null
  let failure = ""
  try {
    adapter = await entry.gpu.requestAdapter(request)
  } catch (e) {
    failure = ` (requestAdapter failed: ${e instanceof Error ? e.message : String(e)})`
  }
  if (adapter !== null && !entry.dawn && options.adapter !== undefined && !describe(adapter).toLowerCase().includes(options.adapter.toLowerCase())) {
    return unavailable([describe(adapter)], options, failure)
  }
  if (adapter !== null) return adapter
  // What is there at all, without the filters asked for.
  const found: Array<string> = []
  if (entry.dawn && (options.adapter !== undefined || options.backend !== undefined)) {
    try {
      const plain = await createGpu({})
      const any = await plain.gpu.requestAdapter()
      if (any !== null) found.push(describe(any))
    } catch {
      // nothing more to report
    }
  }
  return unavailable(found, options, failure)
}

const unavailable = (adapters: Array<string>, options: AdapterOptions, failure: string): GpuUnavailable => {
  const drivers = typeof process === "object" && process.platform === "linux" ? vulkanDrivers() : []
  const asked = [
    options.adapter !== undefined ? `adapter matching "${options.adapter}"` : undefined,
    options.backend !== undefined ? `backend ${options.backend}` : undefined,
    options.powerPreference !== undefined ? `power preference ${options.powerPreference}` : undefined
  ].filter((s) => s !== undefined)
  const lines = [
    `no WebGPU adapter${asked.length > 0 ? ` with ${asked.join(", ")}` : ""}${failure}.`,
    `Adapters found: ${adapters.length === 0 ? "none" : adapters.join("; ")}.`,
    drivers.length > 0 ? `Vulkan drivers looked for: ${drivers.join(", ")}.` : "",
    adapters.length > 0 && asked.length > 0 ? "Drop or change the adapter/backend options to use one of the adapters found." : INSTALL
  ].filter((s) => s !== "")
  return new GpuUnavailable({ adapters, drivers, message: lines.join(" ") })
}

/** True for an adapter that runs on the CPU (Mesa's lavapipe/llvmpipe, SwiftShader). */
export const isSoftware = (a: GPUAdapter): boolean =>
  a.info.architecture === "software" || /llvmpipe|lavapipe|swiftshader/i.test(describe(a))
