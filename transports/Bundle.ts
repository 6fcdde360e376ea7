/**
 * A rank's code as one file. Node's module loader spends about a millisecond
 * on every module a thread imports, and a rank imports some 390 of them
 * (effect's barrel alone is 247): 0.6–0.7 s of CPU and 27 MB of heap per rank
 * before its program starts, the same again for every rank. Bundled into one
 * tree-shaken file by rolldown, the same rank starts in about 0.1 s with 8 MB.
 *
 * A launcher that knows the programs of a job asks for a bundle of the rank's
 * entry (the worker or rank-process module), the runner and those programs,
 * and starts every rank from it. The entry registers the runner and the
 * programs under the URLs they would be imported from (`preloaded.ts`), so
 * that they come from the bundle and share its one copy of rankflow and
 * effect. Bundles are kept in a cache directory and reused while none of
 * their input files changed (checked by size and modification time).
 *
 * Within the bundle every module keeps its own `import.meta.url`, `filename`
 * and `dirname`; packages with native add-ons stay outside it, imported by
 * absolute path; errors' stacks name the original files, through a table of
 * positions made from the bundle's source map and read only where a stack
 * passes through the bundle (bundleStacks.ts). Where a bundle cannot be made
 * (no rolldown for this platform, a program that does not parse,
 * `import.meta.resolve`, a cache directory others may write to,
 * `RANKFLOW_BUNDLE=0`), the launcher starts its ranks from their files, as
 * before: nothing else changes.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { lineTable } from "./bundleStacks.ts"
import { PRELOADED } from "./preloaded.ts"

/** What to bundle. */
export interface BundleRequest {
  /** The rank's entry (a file URL): the module a worker or a rank process runs. */
  readonly entry: string
  /** Modules the rank imports at run time through `importModule` (the runner, the programs): file URLs. */
  readonly modules: ReadonlyArray<string>
}

/** A bundle's file, or why the ranks start from their files. */
export type BundleOutcome =
  | { readonly _tag: "Bundled"; readonly path: string; readonly built: boolean }
  | { readonly _tag: "Unbundled"; readonly reason: string }

/** Bumped when what a bundle holds changes shape, so that older bundles are not reused. */
const FORMAT = 6

/** The environment variable that turns bundling off (`0`). */
export const BUNDLE_ENV = "RANKFLOW_BUNDLE"
/** The environment variable naming the cache directory (default: `rankflow-bundles-<uid>` in the temporary directory). */
export const BUNDLE_DIR_ENV = "RANKFLOW_BUNDLE_DIR"

const ENTRY_ID = "\0rankflow-rank-entry"

const cacheDir = (): string => process.env[BUNDLE_DIR_ENV] ?? join(tmpdir(), `rankflow-bundles-${process.getuid?.() ?? "user"}`)

/**
 * Why the cache directory cannot be trusted, if it cannot: the ranks run what
 * it holds, so it must be this user's alone (created here with mode 0700).
 */
const privateDir = (dir: string): string | undefined => {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const s = statSync(dir)
    const uid = process.getuid?.()
    if (uid !== undefined && s.uid !== uid) return `the bundle cache ${dir} belongs to another user (uid ${s.uid})`
    if ((s.mode & 0o022) !== 0) return `others may write to the bundle cache ${dir} (mode ${(s.mode & 0o777).toString(8)})`
    return undefined
  } catch (e) {
    return `cannot create the bundle cache ${dir}: ${e instanceof Error ? e.message : String(e)}`
  }
}

/** Input files with their size and modification time, as recorded beside a bundle. */
type Manifest = { readonly format: number; readonly inputs: ReadonlyArray<readonly [path: string, size: number, mtimeMs: number]> }

const fresh = (manifestPath: string): boolean => {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest
    if (manifest.format !== FORMAT) return false
    for (const [path, size, mtimeMs] of manifest.inputs) {
      const s = statSync(path)
      if (s.size !== size || s.mtimeMs !== mtimeMs) return false
    }
    return true
  } catch {
    return false
  }
}

/** Bundles unused this long are deleted when another is built. */
const KEEP_UNUSED_MS = 7 * 24 * 3600 * 1000

/** Deletes the bundles (and their maps, manifests, abandoned temporary files) of the cache not used for a week. */
const prune = (dir: string): void => {
  const now = Date.now()
  for (const name of readdirSync(dir)) {
    const file = join(dir, name)
    try {
      if (now - statSync(file).mtimeMs > KEEP_UNUSED_MS) rmSync(file, { force: true })
    } catch {
      // Deleted meanwhile by another launch.
    }
  }
}

/** Marks a bundle as used now, by its modification time (access times are often not kept: `noatime`, `relatime`). */
const touch = (manifestPath: string): void => {
  const now = new Date()
  try {
    const path = manifestPath.replace(/\.json$/, ".mjs")
    for (const file of [manifestPath, path, `${path}.map`, `${path}.lines`, `${path}.sources.json`]) utimesSync(file, now, now)
  } catch {
    // Pruned meanwhile: the next launch builds it again.
  }
}

/** Writes `text` to `path` through a temporary name, so that a reader never sees half a file. */
const writeAtomically = (path: string, text: string | Uint8Array): void => {
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  writeFileSync(temporary, text)
  renameSync(temporary, path)
}

/**
 * The bundle for `request`: reused from the cache when its inputs are
 * unchanged, else built (about a second) and cached. Never fails: where
 * no bundle can be made, says why.
 *
 * @example
 * ```ts
 * const outcome = await bundle({ entry: workerUrl, modules: [runnerUrl, programUrl] })
 * const worker = new Worker(outcome._tag === "Bundled" ? outcome.path : workerUrl, { workerData })
 * ```
 */
export const bundle = async (request: BundleRequest): Promise<BundleOutcome> => {
  if (process.env[BUNDLE_ENV] === "0") return { _tag: "Unbundled", reason: `${BUNDLE_ENV}=0` }
  const notFile = [request.entry, ...request.modules].find((u) => !u.startsWith("file:"))
  if (notFile !== undefined) return { _tag: "Unbundled", reason: `${notFile} is not a file URL` }
  const dir = cacheDir()
  const unsafe = privateDir(dir)
  if (unsafe !== undefined) return { _tag: "Unbundled", reason: unsafe }
  const key = createHash("sha256").update(JSON.stringify([FORMAT, request.entry, request.modules])).digest("hex").slice(0, 32)
  const path = join(dir, `${key}.mjs`)
  const manifestPath = join(dir, `${key}.json`)
  if (fresh(manifestPath) && existsSync(path)) {
    touch(manifestPath)
    return { _tag: "Bundled", path, built: false }
  }
  try {
    const started = Date.now()
    const { code, map, inputs } = await build(request, path)
    writeAtomically(`${path}.map`, map)
    const parsed = JSON.parse(map) as { readonly mappings: string; readonly sources: ReadonlyArray<string> }
    writeAtomically(`${path}.lines`, lineTable(parsed.mappings))
    writeAtomically(`${path}.sources.json`, JSON.stringify(parsed.sources))
    writeAtomically(path, `${code}\n//# sourceMappingURL=${key}.mjs.map\n`)
    const manifest: Manifest = {
      format: FORMAT,
      inputs: inputs.map((input) => {
        const s = statSync(input)
        return [input, s.size, s.mtimeMs] as const
      })
    }
    // A file changed while the bundler read it: use this bundle once, build it again next time.
    if (manifest.inputs.every(([, , mtimeMs]) => mtimeMs < started)) writeAtomically(manifestPath, JSON.stringify(manifest))
    prune(dir)
    return { _tag: "Bundled", path, built: true }
  } catch (e) {
    return { _tag: "Unbundled", reason: reasonOf(e) }
  }
}

/** The first error of a failed build, in one line (rolldown's message lists every error, each with its plugin and stack). */
const reasonOf = (e: unknown): string => {
  const lines = (e instanceof Error ? e.message : String(e)).split("\n")
  const thrown = lines.find((l) => l.startsWith("Error: "))
  return thrown?.slice("Error: ".length) ?? lines.find((l) => l.trim() !== "" && !l.startsWith("Build failed")) ?? lines[0]!
}

/** The bundle's entry: maps stacks back to the sources, registers the modules the rank imports by URL, then runs the rank's entry. */
const entryCode = (request: BundleRequest): string => {
  const table = request.modules.map((url) => `  [${JSON.stringify(url)}, () => import(${JSON.stringify(fileURLToPath(url))})]`)
  return [
    `import { mapBundleStacks } from ${JSON.stringify(fileURLToPath(new URL("./bundleStacks.ts", import.meta.url)))}`,
    `mapBundleStacks(import.meta.url)`,
    ...(table.length === 0 ? [] : [`globalThis[Symbol.for(${JSON.stringify(PRELOADED.description)})] = new Map([\n${table.join(",\n")}\n])`]),
    `await import(${JSON.stringify(fileURLToPath(request.entry))})`
  ].join("\n")
}

const build = async (request: BundleRequest, outputPath: string): Promise<{ code: string; map: string; inputs: Array<string> }> => {
  const { rolldown } = await import("rolldown")
  const CORE_DIR = fileURLToPath(new URL("../core/", import.meta.url))
  const { parseSync } = await import("rolldown/utils")
  const bundler = await rolldown({
    input: ENTRY_ID,
    platform: "node",
    logLevel: "silent",
    makeAbsoluteExternalsRelative: false,
    experimental: { nativeMagicString: true },
    plugins: [
      {
        name: "rankflow:entry",
        resolveId: (id) => (id === ENTRY_ID ? ENTRY_ID : null),
        load: (id) => (id === ENTRY_ID ? entryCode(request) : null)
      },
      {
        name: "rankflow:native-packages-outside",
        async resolveId(source, importer, options) {
          if (/^(\.|\/|node:|\0)/.test(source) || importer === undefined) return null
          const resolved = await this.resolve(source, importer, { ...options, skipSelf: true })
          if (resolved === null || resolved.external !== false) return resolved
          // The bundler itself is reachable (a rank may launch a job) but never worth carrying; nor are the
          // packages rankflow's core imports lazily for launcher-side tools (the dashboard's HTTP server, OTLP):
          // a rank reaches them only if it runs those tools, and then loads them from their own paths.
          const lazyTool = options.kind === "dynamic-import" && importer.startsWith(CORE_DIR)
          return source === "rolldown" || source.startsWith("rolldown/") || lazyTool || hasNativeAddon(resolved.id) ? { id: resolved.id, external: "absolute" } : resolved
        }
      },
      {
        name: "rankflow:own-import-meta",
        transform(code, id, meta) {
          if (id.startsWith("\0") || !code.includes("import.meta")) return null
          const edits = importMetaEdits(parseSync(id, code).program, id)
          if (edits.length === 0) return null
          const text = meta.magicString
          if (text !== undefined) {
            for (const e of edits) text.overwrite(e.start, e.end, e.text)
            return { code: text }
          }
          let out = code
          for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end)
          return { code: out, map: null }
        }
      }
    ]
  })
  try {
    const { output } = await bundler.generate({
      format: "esm",
      codeSplitting: false,
      sourcemap: "hidden",
      // Stacks need the mappings only; the sources stay where they are.
      sourcemapExcludeSources: true,
      dir: dirname(outputPath),
      sourcemapPathTransform: (relative, mapPath) => pathToFileURL(resolve(dirname(mapPath), relative)).href
    })
    const chunk = output[0]
    if (chunk.map === null) throw new Error("rolldown gave no source map")
    return {
      code: chunk.code,
      map: chunk.map.toString(),
      inputs: chunk.moduleIds.filter((id) => !id.startsWith("\0") && existsSync(id))
    }
  } finally {
    await bundler.close()
  }
}

interface Edit {
  readonly start: number
  readonly end: number
  readonly text: string
}

type Node = { readonly type: string; readonly start: number; readonly end: number; readonly [key: string]: unknown }

const isNode = (u: unknown): u is Node => typeof u === "object" && u !== null && typeof (u as { type?: unknown }).type === "string"

/**
 * Each `import.meta.url`, `.filename` and `.dirname` of the module at `path`,
 * replaced by its value, so that the module finds its neighbours from inside
 * the bundle; `import.meta.main` is false (a rank's modules are never the
 * process's entry) and any other property undefined, as Node has none. Uses
 * the bundle cannot give their own meaning (`import.meta.resolve`, the object
 * itself) are refused.
 */
const importMetaEdits = (program: unknown, path: string): Array<Edit> => {
  const values: Record<string, string> = {
    url: JSON.stringify(pathToFileURL(path).href),
    filename: JSON.stringify(path),
    dirname: JSON.stringify(dirname(path)),
    main: "false"
  }
  const edits: Array<Edit> = []
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n)
      return
    }
    if (!isNode(node)) return
    if (node.type === "MemberExpression" && isNode(node.object) && node.object.type === "MetaProperty" && node.computed === false && isNode(node.property)) {
      const name = (node.property as { name?: string }).name ?? ""
      if (name === "resolve") throw new Error(`${path} uses import.meta.resolve, which a bundle cannot keep`)
      edits.push({ start: node.start, end: node.end, text: values[name] ?? "undefined" })
      return
    }
    if (node.type === "MetaProperty" && (node.meta as { name?: string }).name === "import") {
      throw new Error(`${path} uses import.meta as a value, which a bundle cannot keep`)
    }
    for (const key in node) {
      if (key !== "type" && key !== "start" && key !== "end") visit(node[key])
    }
  }
  visit(program)
  return edits
}

const nativeByRoot = new Map<string, boolean>()

/** Whether the package holding `file` ships a compiled add-on (a `.node` file, node-gyp), which must load from its own place. */
const hasNativeAddon = (file: string): boolean => {
  let root = dirname(file)
  while (!existsSync(join(root, "package.json"))) {
    const up = dirname(root)
    if (up === root) return false
    root = up
  }
  const known = nativeByRoot.get(root)
  if (known !== undefined) return known
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as Record<string, unknown>
  const deps = { ...(pkg.dependencies as object | undefined), ...(pkg.optionalDependencies as object | undefined) }
  const loaders = ["node-gyp-build", "node-gyp-build-optional-packages", "bindings", "prebuild-install", "node-addon-api"]
  const native = pkg.gypfile === true || pkg.binary !== undefined || existsSync(join(root, "binding.gyp")) ||
    loaders.some((l) => l in deps) ||
    ["", "dist", "build/Release", "prebuilds"].some((sub) => {
      try {
        return readdirSync(join(root, sub)).some((f) => f.endsWith(".node"))
      } catch {
        return false
      }
    })
  nativeByRoot.set(root, native)
  return native
}
