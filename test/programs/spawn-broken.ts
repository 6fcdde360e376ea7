// A rank program that cannot load: spawning it fails with SpawnError naming this error.
throw new Error("spawn-broken.ts is broken on purpose")
