/** The shm transport's registration (see ../Registration.ts): the default, worker threads of one process. */
import type { Registration } from "../Registration.ts"

export const registration: Registration = {
  kind: "shm",
  description: "worker threads of one process sharing memory (the default)",
  flags: [
    { name: "bind-to", type: "string", description: "shm: core (each rank's thread on cores of its own, as mpiexec binds; the default where ranks fit the cores) or none" }
  ],
  launcher: async () => (await import("./ShmLauncher.ts")).ShmLauncher,
  optionsFromFlags: async (flags) => (flags["bind-to"] === undefined ? {} : { bindTo: String(flags["bind-to"]) }),
  decidesDeadlocks: true
}
