import FuzzSupport

runFuzzer(fuzzDNSMessage)
