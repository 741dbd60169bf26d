using System.Collections.Immutable;
using Harden.Checking;
using Harden.Host;
using Harden.Planning;
using Harden.Profiles;
using Harden.Rendering;
using Harden.Resources;

namespace Harden.Core.Tests;

/// <summary>The pure half of harden check: a plan becomes a control per module, with citations, evidence and commands.</summary>
public sealed class ComplianceCheckTests
{
    private static readonly Profile Profile = ProfileLoader.Load("debian-hipaa");

    private static Plan PlanOn(HostSnapshot host, params string[] sets) =>
        Planner.Create(DesiredState.Render(Profile, VariableBinder.Bind(Profile, ["ssh_allow_members=alice", .. sets]), new TemplateRenderer(EmbeddedTemplateSource.Instance)), host);

    private static HostSnapshot Empty(string root = "/img") =>
        new(root, false, ImmutableDictionary<string, FileState>.Empty, [new UserAccount("root", 0, 0, "/root"), new UserAccount("alice", 1000, 1000, "/home/alice", "/bin/bash")], [new GroupEntry("root", 0, []), new GroupEntry("alice", 1000, [])],
            ImmutableDictionary<string, PackageInfo>.Empty, [], ImmutableDictionary<string, KeyAccess>.Empty, null);

    [Test]
    public void Every_module_is_a_control_with_its_citations_titled_and_skipped_ones_not_applicable()
    {
        var controls = ComplianceCheck.Controls(Profile, PlanOn(Empty()));
        Assert.That(controls.Select(c => c.Id), Is.EqualTo(Profile.Modules.Select(m => m.Id).Append("plan-warnings")));
        var audit = controls.Single(c => c.Id == "audit");
        Assert.That(audit.Status, Is.EqualTo(ControlStatus.Fail));
        Assert.That(audit.Citations.Select(c => (c.Section, c.Title)), Does.Contain(("164.312(b)", "Audit controls")));
        Assert.That(audit.Findings.Where(f => !f.Passed).Select(f => f.Subject), Does.Contain("file:/etc/audit/rules.d/hipaa.rules"));
        Assert.That(controls.Single(c => c.Id == "firewall").Status, Is.EqualTo(ControlStatus.NotApplicable));
        Assert.That(controls.Single(c => c.Id == "firewall").Summary, Does.Contain("firewall is off"));
        Assert.That(controls.SelectMany(c => c.Citations).Where(c => c.Title.Length == 0), Is.Empty, "every cited paragraph has its title");
    }

    [Test]
    public void A_module_verifier_finding_fails_its_control_and_none_passes_it()
    {
        static FileState F(string text) => new(true, System.Text.Encoding.UTF8.GetBytes(text), (UnixFileMode)420, 0, 0, null);
        var trusted = Empty() with
        {
            Folders = ImmutableDictionary<string, ImmutableDictionary<string, FileState>>.Empty
                .Add(AptSources.SourceFolder, ImmutableDictionary<string, FileState>.Empty.Add("vendor.list", F("deb [trusted=yes] http://v.example/ x main\n"))),
        };
        var failing = ComplianceCheck.Controls(Profile, PlanOn(trusted)).Single(c => c.Id == "apt-signatures");
        Assert.That(failing.Status, Is.EqualTo(ControlStatus.Fail));
        Assert.That(failing.Findings.Single().Found, Does.StartWith("/etc/apt/sources.list.d/vendor.list:1 marks a source trusted"));
        var clean = ComplianceCheck.Controls(Profile, PlanOn(Empty())).Single(c => c.Id == "apt-signatures");
        Assert.That(clean.Status, Is.EqualTo(ControlStatus.Pass));
        Assert.That(clean.Findings.Single().Subject, Is.EqualTo("apt-sources"));
    }

    [Test]
    public void Commands_quote_what_came_from_the_host_and_go_through_chroot_offline()
    {
        var plan = PlanOn(Empty("/srv/image one"));
        Assert.That(ComplianceCheck.Command(new Address(ModeResource.Kind, "/home/x;rm -rf ~"), plan),
            Is.EqualTo("chroot '/srv/image one' sh -c 'stat -c '\\''%a %U:%G'\\'' '\\''/home/x;rm -rf ~'\\'''"));
        Assert.That(ComplianceCheck.Command(new Address(ServiceResource.Kind, "auditd.service"), plan with { Root = "/" }), Is.EqualTo("systemctl is-enabled auditd.service"), "the root is / (a live host, or inside a chroot): no chroot in front");
        Assert.That(ComplianceCheck.Quote("it's"), Is.EqualTo("'it'\\''s'"));
        Assert.That(ComplianceCheck.Quote(""), Is.EqualTo("''"));
    }

    [Test]
    public void Citation_titles_fall_back_to_the_enclosing_paragraph()
    {
        Assert.That(HipaaSections.Title("164.312(e)(2)(ii)"), Is.EqualTo("Encryption"));
        Assert.That(HipaaSections.Title("164.312(a)(1)(x)"), Is.EqualTo("Access control"));
        Assert.That(HipaaSections.Title("999.1"), Is.EqualTo(""));
        Assert.That(HipaaSections.Section("164.312(a)(2)(iv)"), Is.EqualTo("164.312"));
    }

    [Test]
    public void Templates_see_the_settings_that_differ_from_the_defaults_and_profiles_cannot_claim_harden_names()
    {
        var desired = DesiredState.Render(Profile, VariableBinder.Bind(Profile, ["ssh_allow_members=alice", "drift_check=true"]), new TemplateRenderer(EmbeddedTemplateSource.Instance));
        var unit = desired.Resources.OfType<FileResource>().Single(f => f.Path == "/etc/systemd/system/harden-check.service").Content;
        var exec = unit.Split('\n').Single(l => l.StartsWith("ExecStart=", StringComparison.Ordinal));
        Assert.That(exec, Does.StartWith("ExecStart=/usr/bin/harden check --profile debian-hipaa --set ").And.EndWith(" --format json --out /var/lib/harden/last-check.json"));
        Assert.That(exec.Split(' ').Where(w => w.Contains('=', StringComparison.Ordinal) && !w.StartsWith("ExecStart", StringComparison.Ordinal)), Is.EquivalentTo(new[] { "drift_check=true", "ssh_allow_members=alice" }), "only what differs from the defaults");
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "p.yaml");
        File.WriteAllText(path, "name: p\nvariables:\n  harden_settings:\n    type: string\n    default: x\n");
        Assert.That(() => ProfileLoader.Load(path), Throws.TypeOf<HardenException>().With.Message.Contains("is reserved"));
    }

    [Test]
    public void Listening_endpoints_are_read_from_proc_net_tcp_in_kernel_byte_order()
    {
        string[] tcp4 =
        [
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
            "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0",
            "   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1235 1 0000000000000000 100 0 0 10 0",
            "   2: 0100007F:8C8A 0100007F:0016 01 00000000:00000000 00:00000000 00000000     0        0 1236 1 0000000000000000 100 0 0 10 0",
            "   3: 0F02000A:01BB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1237 1 0000000000000000 100 0 0 10 0",
        ];
        string[] tcp6 =
        [
            "  sl  local_address                         remote_address                        st",
            "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000",
            "   1: 00000000000000000000000001000000:0277 00000000000000000000000000000000:0000 0A 00000000:00000000",
        ];
        Assert.That(HostProbes.ListeningEndpoints(tcp4, tcp6), Is.EqualTo(new[] { "127.0.0.1:22", "127.0.0.1:631", "10.0.2.15:443", "[::1]:22", "[::1]:631" }));
        Assert.That(HostProbes.ListeningEndpoints(tcp4, tcp6, limit: 2), Has.Count.EqualTo(2));
    }
}
