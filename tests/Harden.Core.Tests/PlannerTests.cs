using System.Collections.Immutable;
using System.Text;
using Harden.Host;
using Harden.Planning;
using Harden.Profiles;
using Harden.Rendering;

namespace Harden.Core.Tests;

/// <summary>The planner is pure: these tests give it values and read a value back, no machine needed.</summary>
public sealed class PlannerTests
{
    private static readonly UnixFileMode Mode644 = (UnixFileMode)Convert.ToInt32("644", 8);

    private static DesiredState Desired(params string[] sets)
    {
        var profile = ProfileLoader.Load("ubuntu-hipaa");
        return DesiredState.Render(profile, VariableBinder.Bind(profile, sets), new TemplateRenderer(EmbeddedTemplateSource.Instance));
    }

    private static HostSnapshot Host(bool live = false, IEnumerable<(string Path, string Text)>? files = null, string groupLine = "",
        IEnumerable<string>? dropIns = null, Func<string, UnixFileMode>? modeOf = null) =>
        new("/img", live,
            (files ?? []).ToImmutableDictionary(f => f.Path, f => new FileState(true, Encoding.UTF8.GetBytes(f.Text), modeOf?.Invoke(f.Path) ?? Mode644, 0, 0, null)),
            [new UserAccount("root", 0, 0, "/root"), new UserAccount("alice", 1000, 1000, "/home/alice")],
            [new GroupEntry("root", 0, []), new GroupEntry("alice", 1000, []), .. groupLine.Length > 0 ? [new GroupEntry(groupLine, 1001, ["alice"])] : Array.Empty<GroupEntry>()],
            ["openssh-server", "libpam-pwquality", "auditd", "rsyslog", "rsyslog-gnutls"],
            [.. dropIns ?? []],
            ImmutableDictionary<string, long>.Empty.Add("alice", 1),
            null);

    [Test]
    public void Empty_host_gets_every_file_created()
    {
        var plan = Planner.Create(Desired(), Host());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(plan.Files.Select(f => f.Action), Is.All.EqualTo(ChangeAction.Create));
            Assert.That(plan.Files.Select(f => f.Path), Does.Contain("/etc/profile.d/hipaa-timeout.sh"));
            Assert.That(plan.Commands.Single().Argv, Is.EqualTo(new[] { "groupadd", "--", "phi-access" }));
            Assert.That(plan.SkippedModules.Single().Id, Is.EqualTo("log-forwarding"));
            Assert.That(plan.HasChanges, Is.True);
        }
    }

    [Test]
    public void A_host_that_matches_has_nothing_to_do()
    {
        var desired = Desired();
        var plan = Planner.Create(desired, Host(files: desired.Files.Select(f => (f.File.Path, f.Content)), groupLine: "phi-access",
            modeOf: path => desired.Files.Single(f => f.File.Path == path).File.Mode));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(plan.Files.Select(f => f.Action), Is.All.EqualTo(ChangeAction.Unchanged));
            Assert.That(plan.HasChanges, Is.False);
            Assert.That(plan.Handlers, Is.Empty, "no change, no handler");
        }
    }

    [Test]
    public void A_mode_change_alone_is_an_update()
    {
        var desired = Desired();
        var host = Host(files: desired.Files.Select(f => (f.File.Path, f.Content)), groupLine: "phi-access");
        var rules = "/etc/audit/rules.d/hipaa.rules";
        var plan = Planner.Create(desired, host);
        var audit = plan.Files.Single(f => f.Path == rules);
        Assert.That(audit.Action, Is.EqualTo(ChangeAction.Update));
        Assert.That(audit.Reason, Is.EqualTo("mode 0644 -> 0640"));
        Assert.That(plan.Handlers.Single().Argv, Is.EqualTo(new[] { "augenrules" }), "offline root: compile only");
    }

    [Test]
    public void Handlers_are_live_forms_on_a_live_host_and_skipped_runtime_only_offline()
    {
        var offline = Planner.Create(Desired(), Host());
        var live = Planner.Create(Desired(), Host(live: true));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(offline.Handlers.Single(h => h.Id == "reload-ssh").SkipReason, Does.Contain("runtime-only"));
            Assert.That(live.Handlers.Single(h => h.Id == "reload-ssh").SkipReason, Is.Null);
            Assert.That(live.Handlers.Single(h => h.Id == "load-audit-rules").Argv, Is.EqualTo(new[] { "augenrules", "--load" }));
        }
    }

    [Test]
    public void Conflicting_sshd_lines_are_found_and_neutralised_but_match_blocks_are_left_alone()
    {
        const string cloudInit = "PasswordAuthentication yes\nMaxAuthTries 3\nMatch User backup\n  PasswordAuthentication yes\n";
        var plan = Planner.Create(Desired(), Host(files: [("/etc/ssh/sshd_config.d/50-cloud-init.conf", cloudInit)],
            dropIns: ["/etc/ssh/sshd_config.d/50-cloud-init.conf"]));
        var conflict = plan.Conflicts.Single();
        var change = plan.Files.Single(f => f.Path.EndsWith("50-cloud-init.conf", StringComparison.Ordinal));
        using (Assert.EnterMultipleScope())
        {
            Assert.That((conflict.Line, conflict.Key, conflict.Value, conflict.Wanted), Is.EqualTo((1, "passwordauthentication", "yes", "no")));
            Assert.That(change.Content, Does.StartWith("# harden: disabled, conflicts with /etc/ssh/sshd_config.d/00-hipaa.conf: PasswordAuthentication yes\nMaxAuthTries 3\nMatch User backup\n  PasswordAuthentication yes"));
        }
    }

    [Test]
    public void A_symlinked_target_is_refused()
    {
        var host = Host() with
        {
            Files = ImmutableDictionary<string, FileState>.Empty.Add("/etc/issue.net", FileState.Missing with { Symlink = "/img/etc/issue.net -> /etc/passwd" }),
        };
        Assert.That(() => Planner.Create(Desired(), host), Throws.TypeOf<HardenException>().With.Message.Contains("symlink"));
    }

    [Test]
    public void Log_forwarding_renders_tls_settings_when_the_server_is_set()
    {
        var plan = Planner.Create(Desired("log_server=logs.example.org"), Host());
        var conf = plan.Files.Single(f => f.Path == "/etc/rsyslog.d/60-hipaa-remote.conf");
        Assert.That(conf.Content, Does.Contain("target=\"logs.example.org\"").And.Contain("port=\"6514\"").And.Contain("StreamDriverMode=\"1\""));
        Assert.That(plan.SkippedModules, Is.Empty);
    }

    [Test]
    public void Expected_sshd_settings_come_from_the_rendered_drop_in()
    {
        var plan = Planner.Create(Desired("ssh_max_auth_tries=4"), Host());
        var expected = plan.Expected.ToDictionary(e => e.Key, e => e.Value);
        Assert.That(expected["maxauthtries"], Is.EqualTo("4"));
        Assert.That(expected["allowgroups"], Is.EqualTo("phi-access"));
    }

    [Test]
    public void Lockout_guard_accepts_a_keyed_member_and_refuses_a_keyless_one()
    {
        var desired = Desired();
        var withKey = Host(groupLine: "phi-access");
        var plan = Planner.Create(desired, withKey);
        Assert.That(LockoutGuard.Assess(plan, withKey, null, []), Is.Null);

        var noKey = withKey with { AuthorizedKeys = ImmutableDictionary<string, long>.Empty };
        Assert.That(LockoutGuard.Assess(plan, noKey, null, []), Does.Contain("alice has no key"));
        Assert.That(LockoutGuard.Assess(plan, withKey, "root", []), Does.Contain("is root"));
    }
}
