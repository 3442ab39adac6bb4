import Foundation
import Testing

/// The sandbox's OOM killer weighs /proc/PID/oom_score_adj as Linux's
/// oom_badness does (README, "Resource limits"): resident pages plus adj
/// thousandths of the limit, the highest killed first, -1000 never.
/// images/src/oomadj.c as init under --memory 96M (--user 0:0: lowering to
/// -1000 takes CAP_SYS_RESOURCE, which a container's root may lack). No
/// native comparison: natively the limit is a cgroup the test cannot set;
/// the expected victims are those Linux's formula picks.
@Suite(.serialized) struct OOMScoreAdjTests {
    init() { #expect(Harness.imagesBuilt, "make -C images failed") }

    /// C holds 40 MiB at -1000, A 16 MiB at 0, B 8 MiB at +500; T grows at 0.
    /// First over the limit (T near 30 MiB): B (8 + 48 MiB of adjustment)
    /// goes, not the larger T or A nor the largest, C. Then T (near 38 MiB,
    /// more than A's 16; C skipped). A and C live on.
    @Test(arguments: Harness.platforms)
    func adjustmentPicksTheVictim(_ platform: Harness.TestPlatform) {
        if let why = Harness.nativeKernelLacks("oom") { print("skipping oom_score_adj on \(platform.rawValue): \(why)"); return }
        guard Harness.memfdReportsHoles else { print("skipping oom_score_adj on \(platform.rawValue): this kernel's memfds report no holes"); return }
        let r = Harness.run(Harness.sentry, ["run"] + platform.arguments + ["--user", "0:0", "--memory", "96M", Harness.image("oomadj")])
        #expect(r.status == 0, "\(platform.rawValue): status \(r.status), \(r.stderr)")
        #expect(r.stdout == """
            B (8 MiB, 500): killed by signal 9
            T (growing, 0): killed by signal 9
            C (40 MiB, -1000): alive
            A (16 MiB, 0): alive

            """, "\(platform.rawValue): \(r.stderr)")
    }
}
