import ServiceLifecycle

/// Runs the ``JobScheduler``'s loop for as long as the gateway runs. It stops after the drain
/// (the HTTP server's services stop after the drain service), so that the polls of waits still
/// running in the drain go on to its deadline.
struct SchedulerService: Service {
    let scheduler: JobScheduler

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await scheduler.run()
        }
    }
}
