// Stage "split" runs on rank 2, which dies mid-run; ranks 0 and 1 run the graph again without it.
import { Rank } from "rankflow"
import { killed } from "./pipelines.ts"

Rank.main(killed(2, true))
