import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { ANY_SOURCE, ANY_TAG, Matching } from "../../core/messaging/Matching.ts"
import type { Arrival } from "../../transports/Transport.ts"

const arrival = (source: number, label: string): Arrival & { label: string; discarded: boolean } => ({
  label,
  discarded: false,
  source,
  envelope: new Uint8Array(16),
  header: new Uint8Array(0),
  sizes: [],
  take: (_into, done) => done({ header: new Uint8Array(0), buffers: [] }),
  discard() {
    this.discarded = true
  }
})

const labelOf = (m: { arrival: Arrival } | undefined) => (m?.arrival as unknown as { label: string } | undefined)?.label

describe("matching engine", () => {
  it("a receive takes the earliest arrived message it accepts", () => {
    const m = new Matching()
    m.arrive(1, 0, 5, arrival(1, "a"))
    m.arrive(1, 0, 5, arrival(1, "b"))
    m.arrive(2, 0, 5, arrival(2, "c"))
    expect(labelOf(m.post(0, 1, 5, false).matched)).toBe("a")
    expect(labelOf(m.post(0, ANY_SOURCE, 5, false).matched)).toBe("b")
    expect(labelOf(m.post(0, ANY_SOURCE, ANY_TAG, false).matched)).toBe("c")
  })

  it("an arrival goes to the earliest posted receive that accepts it", () => {
    const m = new Matching()
    const any = m.post(0, ANY_SOURCE, ANY_TAG, false)
    const specific = m.post(0, 3, 7, false)
    let woke = 0
    any.wake = () => woke++
    specific.wake = () => woke++
    m.arrive(3, 0, 7, arrival(3, "x"))
    expect(labelOf(any.matched)).toBe("x")
    expect(specific.matched).toBeUndefined()
    m.arrive(3, 0, 7, arrival(3, "y"))
    expect(labelOf(specific.matched)).toBe("y")
    expect(woke).toBe(2)
  })

  it("messages on different contexts never match each other", () => {
    const m = new Matching()
    m.arrive(1, 10, 0, arrival(1, "ctx10"))
    const p = m.post(11, 1, 0, false)
    expect(p.matched).toBeUndefined()
    m.arrive(1, 11, 0, arrival(1, "ctx11"))
    expect(labelOf(p.matched)).toBe("ctx11")
    expect(labelOf(m.post(10, ANY_SOURCE, ANY_TAG, false).matched)).toBe("ctx10")
  })

  it("a probe's wake-up sees the message already queued for receives", () => {
    const m = new Matching()
    const probe = m.post(0, ANY_SOURCE, ANY_TAG, true)
    let seen: string | undefined
    probe.wake = () => (seen = labelOf(m.find(0, ANY_SOURCE, ANY_TAG)))
    m.arrive(2, 0, 1, arrival(2, "z"))
    expect(seen).toBe("z")
  })

  it("a probe sees a message without taking it", () => {
    const m = new Matching()
    const probe = m.post(0, ANY_SOURCE, ANY_TAG, true)
    const recv = m.post(0, ANY_SOURCE, ANY_TAG, false)
    m.arrive(4, 0, 1, arrival(4, "p"))
    expect(labelOf(probe.matched)).toBe("p")
    expect(labelOf(recv.matched)).toBe("p")
    m.arrive(4, 0, 1, arrival(4, "q"))
    expect(labelOf(m.post(0, 4, 1, true).matched)).toBe("q")
    expect(labelOf(m.find(0, 4, 1))).toBe("q")
    expect(labelOf(m.post(0, 4, 1, false).matched)).toBe("q")
    expect(m.find(0, 4, 1)).toBeUndefined()
  })

  it("a withdrawn receive that had matched puts its message back before later ones", () => {
    const m = new Matching()
    const p = m.post(0, 1, 0, false)
    m.arrive(1, 0, 0, arrival(1, "first"))
    m.arrive(1, 0, 0, arrival(1, "second"))
    expect(labelOf(p.matched)).toBe("first")
    expect(m.withdraw(p)).toBe(false)
    expect(labelOf(m.post(0, 1, 0, false).matched)).toBe("first")
    expect(labelOf(m.post(0, 1, 0, false).matched)).toBe("second")
  })

  it("a withdrawn waiting receive no longer matches", () => {
    const m = new Matching()
    const p = m.post(0, 1, 0, false)
    expect(m.withdraw(p)).toBe(true)
    m.arrive(1, 0, 0, arrival(1, "late"))
    expect(p.matched).toBeUndefined()
    expect(labelOf(m.post(0, 1, 0, false).matched)).toBe("late")
  })

  it("a requeued message goes to a receive posted meanwhile", () => {
    const m = new Matching()
    const p = m.post(0, 1, 0, false)
    m.arrive(1, 0, 0, arrival(1, "x"))
    const waiting = m.post(0, 1, 0, false)
    m.withdraw(p)
    expect(labelOf(waiting.matched)).toBe("x")
  })

  it("a failed peer fails receives waiting on it and on ANY_SOURCE, but not messages it already sent", () => {
    const m = new Matching()
    m.arrive(2, 0, 0, arrival(2, "before"))
    const onTwo = m.post(0, 2, 9, false)
    const onAny = m.post(0, ANY_SOURCE, 9, false)
    const onOne = m.post(0, 1, 9, false)
    m.peerFailed(2, "killed")
    expect(onTwo.failed).toBe("killed")
    expect(onAny.failed).toBe("killed")
    expect(onOne.failed).toBeUndefined()
    expect(labelOf(m.post(0, 2, 0, false).matched)).toBe("before")
    expect(m.post(0, 2, 0, false).failed).toBe("killed")
  })

  it("purge drops the messages of old contexts", () => {
    const m = new Matching()
    const a = arrival(1, "old")
    m.arrive(1, 5, 0, a)
    m.purge((c) => c < 10)
    expect(a.discarded).toBe(true)
    expect(m.find(5, ANY_SOURCE, ANY_TAG)).toBeUndefined()
  })

  it("a rank that finished: its run's waiting receives fail (not other runs'), later ones too, but what it sent first is still received", () => {
    const m = new Matching()
    const SPAN = 100
    const waiting = m.post(100, 1, 5, false)
    const otherRun = m.post(200, 1, 5, false)
    const fromOther = m.post(100, 2, 5, false)
    let woke = 0
    waiting.wake = () => woke++
    m.arrive(1, 100, 6, arrival(1, "sent before finishing"))
    m.peerFinished(1, 100, SPAN, 2)
    expect(woke).toBe(1)
    expect(waiting.finished).toBe(true)
    expect(waiting.failedRank).toBe(1)
    expect(otherRun.queued).toBe(true)
    expect(fromOther.queued).toBe(true)
    // The message it sent before it finished is still there to receive; nothing else will come.
    expect(labelOf(m.post(101, 1, 6, false).matched)).toBeUndefined()
    expect(labelOf(m.post(100, 1, 6, false).matched)).toBe("sent before finishing")
    expect(m.post(150, 1, 6, false).finished).toBe(true)
    // From any source: only once every other rank (2 of them) has finished.
    const any = m.post(100, ANY_SOURCE, ANY_TAG, false)
    expect(any.queued).toBe(true)
    m.peerFinished(2, 100, SPAN, 2)
    expect(any.finished).toBe(true)
    expect(fromOther.finished).toBe(true)
    expect(m.post(100, ANY_SOURCE, 3, false).finished).toBe(true)
  })

  it("lists the receives and probes waiting now, each with when it began", () => {
    const m = new Matching()
    const before = Date.now()
    m.post(0, 1, 5, false)
    m.post(2, ANY_SOURCE, 7, true)
    m.arrive(3, 0, 1, arrival(3, "unexpected"))
    const waiting = [...m.waiting()]
    expect(waiting.map((p) => [p.context, p.source, p.tag, p.peek])).toEqual([[0, 1, 5, false], [2, ANY_SOURCE, 7, true]])
    expect(waiting.every((p) => p.since >= before)).toBe(true)
  })

  it("matches as a plain ordered model does, over long queues with takes from the front, the middle and withdrawals", () => {
    // The model: two arrays scanned in order, spliced on every take (the semantics, without the speed).
    type Op = { kind: "arrive"; source: number; tag: number } | { kind: "post"; source: number; tag: number } | { kind: "withdraw"; which: number }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant("arrive" as const), source: fc.integer({ min: 0, max: 2 }), tag: fc.integer({ min: 0, max: 2 }) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("post" as const), source: fc.integer({ min: -1, max: 2 }), tag: fc.integer({ min: -1, max: 2 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("withdraw" as const), which: fc.nat() }) }
    )
    fc.assert(fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const m = new Matching()
      const model = { unexpected: [] as Array<{ source: number; tag: number; label: string }>, posted: [] as Array<{ source: number; tag: number; id: number }> }
      const fits = (p: { source: number; tag: number }, a: { source: number; tag: number }) =>
        (p.source === ANY_SOURCE || p.source === a.source) && (p.tag === ANY_TAG || p.tag === a.tag)
      const waiting: Array<{ id: number; posted: ReturnType<Matching["post"]> }> = []
      const got = new Map<number, string | undefined>()
      const expected = new Map<number, string | undefined>()
      let n = 0
      for (const o of ops) {
        if (o.kind === "arrive") {
          const label = `m${n++}`
          m.arrive(o.source, 0, o.tag, arrival(o.source, label))
          const i = model.posted.findIndex((p) => fits(p, o))
          if (i >= 0) expected.set(model.posted.splice(i, 1)[0]!.id, label)
          else model.unexpected.push({ source: o.source, tag: o.tag, label })
        } else if (o.kind === "post") {
          const id = n++
          const posted = m.post(0, o.source, o.tag, false)
          if (posted.matched !== undefined) got.set(id, labelOf(posted.matched))
          else {
            posted.wake = () => got.set(id, labelOf(posted.matched))
            waiting.push({ id, posted })
          }
          const i = model.unexpected.findIndex((a) => fits(o, a))
          if (i >= 0) expected.set(id, model.unexpected.splice(i, 1)[0]!.label)
          else model.posted.push({ source: o.source, tag: o.tag, id })
        } else if (waiting.length > 0) {
          const [w] = waiting.splice(o.which % waiting.length, 1)
          if (w!.posted.matched === undefined) {
            expect(m.withdraw(w!.posted)).toBe(true)
            model.posted.splice(model.posted.findIndex((p) => p.id === w!.id), 1)
          }
        }
      }
      expect(got).toEqual(expected)
      // What is left waits in the same order on both sides.
      for (const a of model.unexpected) expect(labelOf(m.post(0, a.source, a.tag, false).matched)).toBe(a.label)
    }))
  })
})

