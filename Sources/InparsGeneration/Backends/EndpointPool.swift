import Foundation
import InparsHTTP

/// Requests and failures of one server, for the summary.
public struct EndpointStatistics: Sendable, Equatable {
    /// The endpoint URL (`…/v1/completions`).
    public var url: String
    /// Attempts sent to it (retries included).
    public var requests = 0
    /// Attempts that failed (an HTTP error status, a connection error, a timeout).
    public var failures = 0
    /// Times it was rested after failing repeatedly.
    public var rests = 0
}

/// Several servers behind one backend: each attempt goes to the endpoint with the fewest
/// requests in flight (ties: fewest sent, then the first given); an endpoint that fails
/// `restAfter` times in a row is rested for `restSeconds` (other endpoints get its work), and
/// an attempt avoids the endpoints its request already failed on while others remain. When
/// every endpoint is resting, the one whose rest ends first is used, so work never stalls.
///
/// Invariant behind `@unchecked Sendable`: all mutable state is touched only under `lock`.
final class EndpointPool: @unchecked Sendable {
    private struct Endpoint {
        var statistics: EndpointStatistics
        var inFlight = 0
        var failuresInARow = 0
        var restedUntil = -Double.infinity
    }

    private let lock = NSLock()
    private var endpoints: [Endpoint]
    private let restAfter: Int
    private let restSeconds: Double
    private let clock: @Sendable () -> Double
    private let onRest: (@Sendable (String, Double) -> Void)?

    init(
        urls: [String], restAfter: Int = 3, restSeconds: Double = 30,
        clock: @escaping @Sendable () -> Double = { ProcessInfo.processInfo.systemUptime },
        onRest: (@Sendable (String, Double) -> Void)? = nil
    ) {
        precondition(!urls.isEmpty, "EndpointPool needs an endpoint")
        endpoints = urls.map { Endpoint(statistics: EndpointStatistics(url: $0)) }
        self.restAfter = restAfter
        self.restSeconds = restSeconds
        self.clock = clock
        self.onRest = onRest
    }

    var count: Int { endpoints.count }

    /// Picks the endpoint for the next attempt and counts it in flight.
    ///
    /// - Parameter avoiding: endpoints this request already failed on.
    func acquire(avoiding: Set<Int> = []) -> (index: Int, url: String) {
        lock.withLock {
            let now = clock()
            var candidates = endpoints.indices.filter { !avoiding.contains($0) }
            if candidates.isEmpty { candidates = Array(endpoints.indices) }
            let awake = candidates.filter { endpoints[$0].restedUntil <= now }
            let index: Int
            if awake.isEmpty {
                index = candidates.min { endpoints[$0].restedUntil < endpoints[$1].restedUntil }!
            } else {
                index = awake.min {
                    (endpoints[$0].inFlight, endpoints[$0].statistics.requests, $0)
                        < (endpoints[$1].inFlight, endpoints[$1].statistics.requests, $1)
                }!
            }
            endpoints[index].inFlight += 1
            endpoints[index].statistics.requests += 1
            return (index, endpoints[index].statistics.url)
        }
    }

    /// Ends an attempt on endpoint `index`.
    func release(_ index: Int, succeeded: Bool) {
        var rested: (String, Double)?
        lock.withLock {
            endpoints[index].inFlight -= 1
            if succeeded {
                endpoints[index].failuresInARow = 0
                return
            }
            endpoints[index].statistics.failures += 1
            endpoints[index].failuresInARow += 1
            if endpoints[index].failuresInARow >= restAfter && endpoints.count > 1 {
                endpoints[index].failuresInARow = 0
                endpoints[index].restedUntil = clock() + restSeconds
                endpoints[index].statistics.rests += 1
                rested = (endpoints[index].statistics.url, restSeconds)
            }
        }
        if let rested { onRest?(rested.0, rested.1) }
    }

    /// Every endpoint's counts, in the order given.
    var statistics: [EndpointStatistics] { lock.withLock { endpoints.map(\.statistics) } }
}
