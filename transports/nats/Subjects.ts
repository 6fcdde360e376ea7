/**
 * Job namespacing: every subject a job uses starts with `rankflow.<job>.`, so
 * jobs on one server never see each other's frames.
 *
 *   rankflow.<job>.to.<rank>   frames addressed to one rank (DATA, ACK, directed FAILED)
 *   rankflow.<job>.all         frames for every rank (JOIN, HEARTBEAT, LEAVE, FAILED)
 */
import { randomBytes } from "node:crypto"

export const ROOT = "rankflow"

/** Job ids are one subject token: letters, digits, `_` and `-`, at most 64 characters. */
const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/

export interface Subjects {
  readonly job: string
  /** Where frames for `rank` are published. */
  to(rank: number): string
  /** The job-wide subject. */
  readonly all: string
}

/** Why `job` cannot be a job id, or `undefined` when it can. */
export const checkJobId = (job: string): string | undefined =>
  JOB_ID.test(job)
    ? undefined
    : `job id ${JSON.stringify(job)} is not usable: use 1 to 64 letters, digits, "_" or "-" (it becomes a NATS subject token)`

/** A fresh job id for a job that runs on one host (hosts of a multi-host job must agree on theirs). */
export const freshJobId = (): string => `j${Date.now().toString(36)}${randomBytes(6).toString("hex")}`

/** The subjects of `job` (an id that passed `checkJobId`). */
export const make = (job: string): Subjects => {
  const prefix = `${ROOT}.${job}`
  const toSubjects: Array<string> = []
  return {
    job,
    all: `${prefix}.all`,
    to: (rank) => (toSubjects[rank] ??= `${prefix}.to.${rank}`)
  }
}
