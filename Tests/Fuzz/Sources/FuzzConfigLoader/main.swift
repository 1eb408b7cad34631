import FuzzSupport

runFuzzer(fuzzConfigLoader)
