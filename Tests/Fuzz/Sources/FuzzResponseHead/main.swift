import FuzzSupport

runFuzzer(fuzzResponseHead)
