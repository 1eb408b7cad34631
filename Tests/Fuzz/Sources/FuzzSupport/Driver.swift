import CFuzzShims
import Glibc

/// Runs libFuzzer with the process's arguments and `target` as the function under test; exits.
///
/// Each fuzz executable's `main.swift` calls this. SwiftPM renames an executable's `main`, so
/// libFuzzer's own `main` is not linked; `LLVMFuzzerRunDriver` is its documented replacement.
public func runFuzzer(_ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, target))
}
