/**
 * The dashboard's state (core/dashboard/Board.ts) from observer events, with
 * a clock the test moves: what each rank is shown doing, rates between
 * rounds, the timeline, output lines, how ranks end, and which pipeline stage
 * holds the others back.
 */
import { describe, expect, it } from "vitest"
import { Board } from "../../core/dashboard/Board.ts"
import { feeder } from "../../core/dashboard/feed.ts"
import * as DeviceMemory from "../../core/observe/deviceMemory.ts"
import type * as Protocol from "../../core/launching/RunnerProtocol.ts"
import type { Wait } from "../../core/messaging/waits.ts"

const status = (over: Partial<Protocol.Status> = {}): Protocol.Status => ({
  _tag: "Status", round: 1, run: 1, quiet: false, pending: [], sent: 0, arrived: 0, activity: 0, waits: [],
  bytesSent: 0, bytesArrived: 0, heapUsed: 1 << 20, utilization: 0.5, codecMillis: 0, deviceBytes: 0, arenaUsed: 0, arenaSize: 0, actors: [], ...over
})
const recv = (peer: number, tag: number): Wait => ({ op: "recv", comm: "world", rank: 0, peer, worldPeer: peer, tag, since: 0 })
const actor = (stage: string, over: Partial<Protocol.ActorReport> = {}): Protocol.ActorReport => ({
  stage, replica: 0, itemsIn: 0, itemsOut: 0, busyMillis: 0, blockedMillis: 0, mailboxDepth: 0, mailboxBound: 8, downstream: [], ...over
})

const setup = () => {
  let now = 1_000_000
  const board = new Board(() => now)
  board.started({ id: 1, size: 3, ranks: [0, 1, 2] })
  return { board, at: (t: number) => (now = t), tick: (ms: number) => (now += ms) }
}

describe("the dashboard's board", () => {
  it("shows each rank's activity and what it waits for, with message and byte rates between rounds", () => {
    const { board, tick } = setup()
    board.round(tick(0), new Map([[0, status()], [1, status({ waits: [recv(2, 7)] })], [2, status({ quiet: true })]]))
    const t = tick(500)
    board.round(t, new Map([[0, status({ sent: 100, bytesSent: 800, arenaUsed: 4096, arenaSize: 1 << 20 })], [1, status({ waits: [recv(2, 7)] })], [2, status({ quiet: true })]]))
    const v = board.view()
    expect(v.arena).toEqual({ used: 4096, size: 1 << 20 })
    expect(v.ranks.map((r) => r.gpu)).toEqual([0, 0, 0])
    expect(v.ranks.map((r) => r.activity)).toEqual(["compute", "receive", "idle"])
    expect(v.ranks[1]!.doing).toMatch(/^recv\(source 2, tag 7\) on world/)
    expect(v.ranks[0]!.samples.at(-1)).toMatchObject({ msgsOut: 200, bytesOut: 1600 })
    expect(v.ranks[0]!.sent).toBe(100)
  })

  it("a rank that does not answer is computing; collectives, ssends and file I/O have their own colour", () => {
    const { board, tick } = setup()
    board.round(tick(200), new Map([
      [1, status({ waits: [{ ...recv(0, 0), op: "allreduce" }] })],
      [2, status({ waits: [{ ...recv(0, 3), op: "ssend" }] })]
    ]))
    expect(board.view().ranks.map((r) => r.activity)).toEqual(["compute", "collective", "send"])
    board.round(tick(200), new Map([[0, status({ pending: ["FSReqPromise"] })], [1, status({ run: 0 })], [2, status({ quiet: true })]]))
    expect(board.view().ranks.map((r) => r.activity)).toEqual(["io", "finished", "idle"])
  })

  it("device memory: what registered readers hold, while they are registered; a rank reports it and the board shows it", () => {
    expect(DeviceMemory.held()).toBe(0)
    const stop = DeviceMemory.register(() => 3 << 20)
    const stop2 = DeviceMemory.register(() => 1 << 20)
    expect(DeviceMemory.held()).toBe(4 << 20)
    stop()
    stop2()
    expect(DeviceMemory.held()).toBe(0)
    const { board, tick } = setup()
    board.round(tick(200), new Map([[1, status({ deviceBytes: 4 << 20 })]]))
    expect(board.view().ranks.map((r) => r.gpu)).toEqual([0, 4 << 20, 0])
  })

  it("a computing rank that spent most of the round encoding and decoding shows as codec work", () => {
    const { board, tick } = setup()
    board.round(tick(200), new Map([[0, status({ codecMillis: 10 })], [1, status({ codecMillis: 10 })]]))
    board.round(tick(200), new Map([[0, status({ codecMillis: 150 })], [1, status({ codecMillis: 20 })]]))
    const v = board.view()
    expect(v.ranks.map((r) => r.activity)).toEqual(["codec", "compute", "compute"])
    expect(v.ranks[0]!.doing).toBe("encoding and decoding values (70 % of the time)")
  })

  it("the timeline keeps one segment per change of activity", () => {
    const { board, tick } = setup()
    for (const waits of [[], [], [recv(1, 0)], [recv(1, 0)], []]) board.round(tick(200), new Map([[0, status({ waits })]]))
    const activities = board.view().ranks[0]!.timeline.map((s) => s.activity)
    expect(activities).toEqual(["compute", "receive", "compute"])
  })

  it("a failed rank shows its error, ranks stopped because of it show as stopped, and the run's failure is kept", () => {
    const { board } = setup()
    board.settled(2, "rank 2 gives up")
    board.settled(0, "interrupted", true)
    board.settled(1)
    board.ended("rank 2 failed: rank 2 gives up")
    const v = board.view()
    expect(v.state).toBe("failed")
    expect(v.failure).toBe("rank 2 failed: rank 2 gives up")
    expect(v.ranks.map((r) => [r.activity, r.failure])).toEqual([["stopped", undefined], ["finished", undefined], ["failed", "rank 2 gives up"]])
  })

  it("keeps each rank's last 20 lines of output, whole lines, without colour codes", () => {
    const { board } = setup()
    board.output(0, "[0] first\n[0] sec")
    board.output(0, "ond\n")
    for (let i = 0; i < 30; i++) board.output(1, `[1] \u001b[32mline ${i}\u001b[0m\n`)
    const v = board.view()
    expect(v.ranks[0]!.logs).toEqual(["[0] first", "[0] second"])
    expect(v.ranks[1]!.logs).toHaveLength(20)
    expect(v.ranks[1]!.logs.at(-1)).toBe("[1] line 29")
  })

  it("adds up a pipeline's actors by stage; the busiest stage its producers wait for holds the others back", () => {
    const { board, tick } = setup()
    const round = (k: number) => new Map([
      [0, status({ actors: [actor("source", { itemsOut: 1000 * k, blockedMillis: 400 * k, downstream: ["map"] })] })],
      [1, status({ actors: [actor("map", { itemsIn: 1000 * k, itemsOut: 1000 * k, busyMillis: 490 * k, mailboxDepth: 8, downstream: ["sink"] })] })],
      [2, status({ actors: [actor("sink", { itemsIn: 1000 * k, busyMillis: 50 * k })] })]
    ])
    board.round(tick(500), round(1))
    board.round(tick(500), round(2))
    const v = board.view()
    expect(v.stages.map((s) => [s.name, s.itemsPerSecond, s.bottleneck])).toEqual([["source", 2000, false], ["map", 2000, true], ["sink", 0, false]])
    expect(v.edges).toEqual([{ from: "source", to: "map", itemsPerSecond: 2000 }, { from: "map", to: "sink", itemsPerSecond: 2000 }])
    // Once the actors are gone (the pipeline ended), the graph stays with its counts.
    board.round(tick(500), new Map([[0, status()], [1, status()], [2, status()]]))
    expect(board.view().stages.map((s) => s.name)).toEqual(["source", "map", "sink"])
  })

  it("fed from a job's stats channel: two launchers' ranks on one board; the run ends when both say so", () => {
    const board = new Board(() => 5_000)
    const feed = feeder(board)
    const round = (launcher: number, ranks: Array<number>, run = 2) =>
      feed({ t: "round", launcher, run, size: 4, ranks, at: 5_000, replies: ranks.map((r) => [r, status({ waits: r === 2 ? [recv(3, 7)] : [] })]) })
    round(11, [0, 1])
    round(22, [2, 3])
    feed({ t: "output", launcher: 22, run: 2, rank: 3, text: "[3] hello\n" })
    feed({ t: "garbage" })
    feed({ t: "round", launcher: 11, run: 1, size: 4, ranks: [0, 1], at: 1, replies: [] })
    let v = board.view()
    expect(v.ranks.map((r) => r.rank)).toEqual([0, 1, 2, 3])
    expect(v.ranks[2]!.doing).toMatch(/^recv\(source 3, tag 7\)/)
    expect(v.ranks[3]!.logs).toEqual(["[3] hello"])
    feed({ t: "settled", launcher: 22, run: 2, rank: 2 })
    feed({ t: "settled", launcher: 22, run: 2, rank: 3 })
    feed({ t: "ended", launcher: 22, run: 2 })
    v = board.view()
    expect([v.state, v.ranks.map((r) => r.activity)]).toEqual(["running", ["compute", "compute", "finished", "finished"]])
    feed({ t: "ended", launcher: 11, run: 2 })
    expect(board.view().state).toBe("finished")
  })
})
