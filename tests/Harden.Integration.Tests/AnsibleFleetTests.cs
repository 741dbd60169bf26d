using System.Text.Json;
using CliWrap;
using CliWrap.Buffered;
using Harden.Integration.Tests.Vm;

namespace Harden.Integration.Tests;

/// <summary>
/// deploy/ansible run by Debian's own ansible against three real Debian roots (11, 12 and 13) through
/// Ansible's community.general.chroot connection: the package is shipped and installed, every host
/// planned with a summary, applied in serial batches, checked, and the reports merged into one fleet
/// report. A refused apply (exit 3) stops the rollout before the next batch.
/// </summary>
[NonParallelizable]
public sealed class AnsibleFleetTests
{
    private static string Playbook => Path.Combine(PublishedHarden.RepoRoot, "deploy/ansible/site.yml");

    [Test]
    public async Task The_playbook_converges_three_hosts_and_merges_their_reports()
    {
        var fleet = await FleetAsync(DebianRoot.Suites, withKey: _ => true);
        try
        {
            var play = await PlaybookAsync(fleet, serial: "2");
            Assert.That(play.ExitCode, Is.Zero, play.StandardOutput + play.StandardError);
            foreach (var (name, root) in fleet.Hosts)
            {
                Assert.That(play.StandardOutput, Does.Match($@"ok: \[{name}\] => {{\s*""msg"": ""debian-hipaa: \d+ to create, \d+ to update, \d+ to remove; \d+ warning"), "a per-host plan summary");
                var installed = await root.Chroot("dpkg-query", "-W", "-f=${Status}", "harden");
                Assert.That(installed.StandardOutput, Is.EqualTo("install ok installed"), name);
                var plan = await HardenCli.RunAsync("plan", "--profile", "debian-hipaa", "--root", root.Path, "--set", "ssh_allow_members=alice", "--detailed-exitcode");
                Assert.That(plan.ExitCode, Is.Zero, $"{name} converged: a fresh plan has nothing to do\n{plan}");
                Assert.That(File.Exists(Path.Combine(fleet.Reports, name + ".json")), name + "'s check report was gathered");
            }
            // The rollout ran in batches of two: three hosts, two batches of the apply play.
            Assert.That(play.StandardOutput.Split('\n').Count(l => l.StartsWith("PLAY [Apply in serial batches]", StringComparison.Ordinal)), Is.EqualTo(2));
            using var merged = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(fleet.Reports, "fleet.json")));
            Assert.That(merged.RootElement.GetProperty("hosts").GetInt32(), Is.EqualTo(3), "the fleet report counts three hosts");
            Assert.That(merged.RootElement.GetProperty("host_reports").EnumerateArray().Select(h => h.GetProperty("profile").GetString()), Is.All.EqualTo("debian-hipaa"));
            Assert.That(File.ReadAllText(Path.Combine(fleet.Reports, "fleet.html")), Does.Contain("<html"));
        }
        finally
        {
            fleet.Dispose();
        }
    }

    [Test]
    public async Task A_refused_apply_stops_the_rollout_before_the_next_batch()
    {
        // The first host has no key for its only allowed user: the lockout guard refuses (exit 3).
        var fleet = await FleetAsync(["bookworm", "bookworm", "bookworm"], withKey: i => i > 0);
        try
        {
            var play = await PlaybookAsync(fleet, serial: "1");
            Assert.That(play.ExitCode, Is.Not.Zero, play.StandardOutput);
            Assert.That(play.StandardOutput, Does.Contain("harden apply exited 3 on host-0; the rollout stops here"));
            var later = 0;
            foreach (var (name, root) in fleet.Hosts.Skip(1))
            {
                // Shipped and planned, but never applied: no run was recorded.
                Assert.That(File.Exists(root.Map("/usr/bin/harden")), name);
                Assert.That(Directory.Exists(root.Map("/var/lib/harden/runs")) && Directory.EnumerateDirectories(root.Map("/var/lib/harden/runs")).Any(), Is.False, name + " was not applied");
                later++;
            }
            Assert.That(later, Is.EqualTo(2));
        }
        finally
        {
            fleet.Dispose();
        }
    }

    private sealed record Fleet(List<(string Name, DebianRoot Root)> Hosts, string Directory) : IDisposable
    {
        public string Reports => Path.Combine(Directory, "reports");

        public void Dispose()
        {
            foreach (var (_, root) in Hosts) root.Dispose();
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    private static async Task<Fleet> FleetAsync(IReadOnlyList<string> suites, Func<int, bool> withKey)
    {
        if (Environment.UserName != "root") Assert.Ignore("the fleet test unpacks and chroots into Debian roots, which needs root");
        await DebianRoot.EnsurePackagesAsync("ansible");
        var hosts = new List<(string, DebianRoot)>();
        for (var i = 0; i < suites.Count; i++)
        {
            var root = await DebianRoot.CreateAsync(suites[i]);
            await root.AddUserAsync("alice", withKey: withKey(i));
            var name = suites.Distinct().Count() == suites.Count ? $"host-{suites[i]}" : $"host-{i}";
            // Each host of a fleet has its own name (roots unpacked from one image share the image's), as report merge requires.
            await File.WriteAllTextAsync(root.Map("/etc/hostname"), name + "\n");
            hosts.Add((name, root));
        }
        return new Fleet(hosts, System.IO.Directory.CreateTempSubdirectory("harden-ansible-").FullName);
    }

    private static async Task<BufferedCommandResult> PlaybookAsync(Fleet fleet, string serial)
    {
        var deb = await PublishedHarden.DebAsync();
        var controller = await PublishedHarden.NativeAsync();
        var inventory = Path.Combine(fleet.Directory, "inventory.ini");
        await File.WriteAllLinesAsync(inventory, ["[harden_hosts]", .. fleet.Hosts.Select(h => $"{h.Name} ansible_connection=community.general.chroot ansible_host={h.Root.Path}")]);
        var extra = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["harden_deb"] = deb,
            ["harden_approve"] = true,
            ["harden_serial"] = serial,
            ["harden_controller"] = controller,
            ["harden_report_dir"] = fleet.Reports,
            ["harden_settings"] = new Dictionary<string, string> { ["ssh_allow_members"] = "alice" },
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = await CliWrap.Cli.Wrap("ansible-playbook").WithArguments(["-i", inventory, Playbook, "-e", extra])
            .WithEnvironmentVariables(e => e.Set("ANSIBLE_NOCOLOR", "1").Set("ANSIBLE_FORCE_COLOR", "0")
                .Set("ANSIBLE_LOCAL_TEMP", Path.Combine(fleet.Directory, "ansible-tmp")).Set("ANSIBLE_RETRY_FILES_ENABLED", "0"))
            .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync();
        TestContext.Progress.WriteLine($"harden tests: ansible-playbook on {fleet.Hosts.Count} chroot hosts took {clock.Elapsed.TotalSeconds:0} s (exit {r.ExitCode}).");
        return r;
    }
}
