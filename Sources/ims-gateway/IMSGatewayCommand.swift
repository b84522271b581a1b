import ArgumentParser

/// `ims-gateway`: the synchronous facade for IMS image-member status jobs, its simulator and demo.
@main
struct IMSGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ims-gateway",
        abstract: "A synchronous HTTP facade for Huawei Cloud IMS image-member status jobs.",
        subcommands: [
            ServeCommand.self, SimulatorCommand.self, DemoCommand.self, HashKeyCommand.self, MigrateCommand.self,
            BackupCommand.self,
        ]
    )
}
