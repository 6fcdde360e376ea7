// Stage "split" runs on rank 2, which dies abruptly (SIGKILL, as a crashed host would) mid-run.
import { Rank } from "rankflow"
import { killed } from "./pipelines.ts"

Rank.main(killed(2))
