// Prints the arguments the CLI passed to the script.
import { Effect } from "effect"
import { Rank } from "rankflow"

Rank.main(Effect.sync(() => console.log(`args: ${process.argv.slice(2).join(" ")}`)))
