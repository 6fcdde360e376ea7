// Prints the arguments the CLI passed to the script, as the program sees them when it
// runs and as its module saw them when it was loaded.
import { Effect } from "effect"
import { Rank } from "rankflow"

const atLoad = process.argv.slice(2).join(" ")
Rank.main(Effect.sync(() => console.log(`args: ${process.argv.slice(2).join(" ")}; at load: ${atLoad}`)))
