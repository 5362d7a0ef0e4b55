import Foundation
import XCTest

@testable import RNN

/// Two hosts on one machine: Linux network namespaces joined by a veth pair, each with its own
/// address. `mpirun` starts in the first and reaches the second through Open MPI's rsh launcher,
/// pointed at a wrapper that runs the command in that namespace (in place of ssh); ranks and
/// launcher talk over TCP on these two addresses only. Skipped, with the reason, where namespaces
/// cannot be made (no root, a container without the capability, no iproute2).
final class TwoHostTests: MPIRunTestCase {
  private var namespaces: [String] = []
  private var ip: URL!

  override func setUpWithError() throws {
    try super.setUpWithError()
    let candidates =
      ((ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
      + ["/usr/sbin", "/sbin", "/usr/bin"]).map { URL(fileURLWithPath: $0).appendingPathComponent("ip") }
    guard let ip = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
      throw XCTSkip("no ip command (Debian: apt-get install iproute2)")
    }
    self.ip = ip
  }

  override func tearDownWithError() throws {
    for name in namespaces { _ = try? runCommand(ip, ["netns", "del", name], in: folder) }
    try super.tearDownWithError()
  }

  /// Runs `ip arguments`; a failure throws `XCTSkip` with its message when `skipping`, else fails.
  private func ipSucceeding(_ arguments: [String], skipping: Bool = false) throws {
    let result = try runCommand(ip, arguments, in: folder)
    guard result.status != 0 else { return }
    let reason =
      "ip \(arguments.joined(separator: " ")): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
    if skipping { throw XCTSkip("network namespaces are not permitted here: \(reason)") }
    XCTFail(reason)
  }

  /// Two hosts joined by a veth pair, and the mpirun options that reach them.
  private struct Hosts {
    /// The first host's namespace, where mpirun runs.
    let first: String
    let addresses: (String, String)
    /// `-H`, the rsh agent and the TCP interfaces; `slots` ranks on each host.
    let options: (_ slots: Int) -> [String]
  }

  /// Makes the two hosts (skipping the test where namespaces are not permitted).
  private func makeHosts() throws -> Hosts {
    // Names and a subnet of this process's own, so parallel runs do not collide.
    let tag = Int(getpid()) % 60_000
    let (hostA, hostB) = ("rnn\(tag)a", "rnn\(tag)b")
    let subnet = "10.\(200 + tag / 250 % 50).\(tag % 250)"
    let (addressA, addressB) = ("\(subnet).1", "\(subnet).2")
    try ipSucceeding(["netns", "add", hostA], skipping: true)
    namespaces.append(hostA)
    try ipSucceeding(["netns", "add", hostB])
    namespaces.append(hostB)
    try ipSucceeding([
      "link", "add", "v\(tag)a", "netns", hostA, "type", "veth", "peer", "name", "v\(tag)b", "netns", hostB,
    ])
    for (host, link, address) in [(hostA, "v\(tag)a", addressA), (hostB, "v\(tag)b", addressB)] {
      try ipSucceeding(["-n", host, "addr", "add", address + "/24", "dev", link])
      try ipSucceeding(["-n", host, "link", "set", link, "up"])
      try ipSucceeding(["-n", host, "link", "set", "lo", "up"])
    }
    // The launcher calls `agent [options] HOST COMMAND`, as it would call ssh. The command runs
    // under a host name of its own (a UTS namespace), as on a real host: Open MPI tells the ranks
    // that share a machine by it.
    let agent = try write(
      "netns-agent",
      """
      #!/bin/sh
      while [ "${1#-}" != "$1" ]; do shift; done
      host=$1; shift
      case $host in \(addressA)) ns=\(hostA) ;; \(addressB)) ns=\(hostB) ;; *) echo "unknown host $host" >&2; exit 1 ;; esac
      echo "$host" >> "\(folder!)/launched"
      exec \(ip.path) netns exec "$ns" unshare --uts sh -c "hostname $ns && $*"

      """)
    chmod(agent, 0o755)
    let cidr = subnet + ".0/24"
    return Hosts(first: hostA, addresses: (addressA, addressB)) { slots in
      [
        "-H", "\(addressA):\(slots),\(addressB):\(slots)", "--mca", "plm_rsh_agent", agent, "--mca", "btl",
        "tcp,self", "--mca", "btl_tcp_if_include", cidr, "--mca", "oob_tcp_if_include", cidr,
      ]
    }
  }

  /// `rnn arguments` as `slots` ranks on each of `hosts`, from the first.
  private func runOnHosts(_ hosts: Hosts, slots: Int, _ arguments: [String]) throws -> CommandResult {
    let mpirunArguments = mpirunArguments(ranks: 2 * slots, arguments, options: hosts.options(slots))
    return try runCommand(ip, ["netns", "exec", hosts.first, mpirun.path] + mpirunArguments, in: folder)
  }

  private let train = [
    "train", "--data", "text.txt", "--batch-size", "8", "--max-steps", "40", "--seed", "3", "--threads", "1",
    "--layers", "2", "--hidden", "32", "--embedding", "16", "--seq-length", "20", "--dropout", "0.3",
    "--eval-every", "20", "--print-every", "10", "--sample-length", "0",
  ]

  /// Trains as one process and as `slots` ranks on each of two hosts; the parameters must agree.
  private func trainOnTwoHostsAsOneProcess(slots: Int) throws -> Hosts {
    let hosts = try makeHosts()
    try write("text.txt", SentenceText(length: 12_000, seed: 5).text)
    try rnnSucceeding(train + ["--checkpoint-dir", "one"])
    let result = try runOnHosts(hosts, slots: slots, train + ["--checkpoint-dir", "hosts"])
    XCTAssertEqual(result.status, 0, result.transcript)
    XCTAssertLessThanOrEqual(try largestDifference("one/latest.safetensors", "hosts/latest.safetensors"), 1e-4)
    return hosts
  }

  func testOneRankInEachOfTwoNetworkNamespacesTrainsAsOneProcess() throws {
    let hosts = try trainOnTwoHostsAsOneProcess(slots: 1)
    // mpirun ran rank 0 in its own namespace and launched the second host's through the agent.
    XCTAssertEqual(try String(contentsOfFile: folder + "/launched", encoding: .utf8), hosts.addresses.1 + "\n")
  }

  /// Two ranks on each host: each host's pair sums in the memory it shares, and the two hosts'
  /// sums meet over TCP (the hierarchical path of `CKernels/mpi_node.c`).
  func testTwoRanksOnEachOfTwoHostsSumThroughSharedMemoryThenAcrossAndTrainAsOneProcess() throws {
    let hosts = try trainOnTwoHostsAsOneProcess(slots: 2)
    let bench = try runOnHosts(
      hosts, slots: 2,
      [
        "bench", "--layers", "1", "--hidden", "32", "--seq-length", "10", "--batch-size", "4", "--seconds", "0.2",
        "--threads", "1", "--json",
      ])
    let json = try benchJSON(bench)
    XCTAssertEqual(json["ranks"] as? Int, 4)
    XCTAssertEqual(
      json["gradient_sum"] as? String, "shared memory on each machine, then MPI_Allreduce across machines")
    XCTAssertEqual(json["shared_product"] as? Bool, true, "each host's pair shares the product")
    XCTAssertEqual(json["shared_update"] as? Bool, true, "each host's pair shares the update")
  }
}
