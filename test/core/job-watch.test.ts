/**
 * The launcher's deadlock decision from the ranks' status answers: only two
 * consecutive complete rounds in which every running rank is quiet, nothing
 * changed and every packet sent has arrived prove a deadlock.
 */
import { describe, expect, it } from "@effect/vitest"
import { JobWatch } from "../../core/launching/JobWatch.ts"
import type * as Protocol from "../../core/launching/RunnerProtocol.ts"
import type { Wait } from "../../core/messaging/waits.ts"

const recv = (peer: number, tag = 0): Wait => ({ op: "recv", comm: "world", rank: 0, peer, worldPeer: peer, tag, since: Date.UTC(2026, 11, 6, 12, 1, 3, 200) })

const status = (round: number, over: Partial<Protocol.Status> = {}): Protocol.Status => ({
  _tag: "Status",
  round,
  run: 1,
  quiet: true,
  pending: [],
  sent: 1,
  arrived: 1,
  activity: 5,
  waits: [],
  bytesSent: 8,
  bytesArrived: 8,
  heapUsed: 1 << 20,
  utilization: 0,
  codecMillis: 0,
  deviceBytes: 0,
  arenaUsed: 0,
  arenaSize: 0,
  actors: [],
  ...over
} as Protocol.Status)

/** Runs two rounds with the given answers per rank; returns what the second round decided. */
const twoRounds = (first: ReadonlyArray<Partial<Protocol.Status>>, second: ReadonlyArray<Partial<Protocol.Status>> = first) => {
  const watch = new JobWatch(first.map((_, r) => r), true)
  let found: import("../../core/errors.ts").Deadlock | undefined
  for (const answers of [first, second]) {
    const { round } = watch.next(0)
    answers.forEach((a, rank) => (found = watch.reply(rank, status(round, a)) ?? found))
  }
  return found
}

describe("the launcher's deadlock decision", () => {
  it("a two-rank cycle of receives: Deadlock naming each rank's wait and the cycle", () => {
    const d = twoRounds([{ waits: [recv(1, 3)] }, { waits: [recv(0, 3)] }])
    expect(d?._tag).toBe("Deadlock")
    expect(d?.waits).toEqual(["rank 0: recv(source 1, tag 3) on world, since 12:01:03.2", "rank 1: recv(source 0, tag 3) on world, since 12:01:03.2"])
    expect(d?.cycle).toEqual([0, 1])
    expect(d?.message).toContain("cycle: rank 0 → rank 1 → rank 0")
  })

  it("finished ranks are listed, and waits on them are not part of a cycle", () => {
    const d = twoRounds([{ waits: [recv(1)] }, { run: 0 }])
    expect(d?.waits).toEqual(["rank 0: recv(source 1, tag 0) on world, since 12:01:03.2", "rank 1: finished"])
    expect(d?.cycle).toBeUndefined()
  })

  it("no deadlock while a rank is busy, a packet is in flight, anything moved between rounds, or every rank finished", () => {
    const waiting = [{ waits: [recv(1)] }, { waits: [recv(0)] }]
    expect(twoRounds([waiting[0]!, { ...waiting[1], quiet: false, pending: ["Timeout"] }])).toBeUndefined()
    expect(twoRounds([waiting[0]!, { ...waiting[1], sent: 2 }])).toBeUndefined()
    expect(twoRounds(waiting, [waiting[0]!, { ...waiting[1], activity: 6 }])).toBeUndefined()
    expect(twoRounds(waiting, [{ ...waiting[0], arrived: 2, sent: 2 }, waiting[1]!])).toBeUndefined()
    expect(twoRounds([{ run: 0 }, { run: 0 }])).toBeUndefined()
    expect(twoRounds(waiting)).toBeDefined()
  })

  it("a rank that does not answer leaves the round open: no decision, and the picture calls it busy", () => {
    const watch = new JobWatch([0, 1], true)
    let picture = ""
    watch.picture((p) => (picture = p))
    for (let i = 0; i < 3; i++) expect(watch.reply(0, status(watch.next(0).round, { waits: [recv(1)] }))).toBeUndefined()
    watch.next(0)
    expect(picture).toBe("rank 0: recv(source 1, tag 0) on world, since 12:01:03.2\nrank 1: running (busy: it did not answer, so it computes without yielding)")
  })
})
