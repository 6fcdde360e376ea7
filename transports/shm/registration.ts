/** The shm transport's registration (see ../Registration.ts): the default, worker threads of one process. */
import type { Registration } from "../Registration.ts"

export const registration: Registration = {
  kind: "shm",
  description: "worker threads of one process sharing memory (the default)",
  flags: [],
  launcher: async () => (await import("./ShmLauncher.ts")).ShmLauncher,
  optionsFromFlags: async () => ({}),
  decidesDeadlocks: true
}
