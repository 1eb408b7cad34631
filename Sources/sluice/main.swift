import SluiceConfig
do { _ = try ConfigLoader.load(path: CommandLine.arguments[1]) } catch { print(error) }
