import FuzzSupport

runFuzzer(fuzzRequestHead)
