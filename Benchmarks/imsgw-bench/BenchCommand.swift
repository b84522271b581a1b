import ArgumentParser

/// `imsgw-bench`: the load generator and the reference server that `scripts/bench` drives
/// (issue #7, BENCHMARKS.md). Not part of the product: it is the only place AsyncHTTPClient is
/// used, as the reference the curl engine is compared with.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imsgw-bench",
        abstract: "Load generator and reference server for the ims-gateway benchmarks.",
        subcommands: [LoadCommand.self, EchoServerCommand.self])
}
