using System.Collections.Immutable;
using Harden.Host;
using Harden.Planning;
using Harden.Resources;

namespace Harden.Core.Tests;

/// <summary>Watches whose folder is missing are left out of the rules file (the kernel would stop loading there), and plan says so.</summary>
public sealed class AuditWatchesTests
{
    private const string Rules = "-D\n-w /var/data/phi -p rwxa -k phi_access\n-w /etc/passwd -p wa -k user_changes\n-w /var/log/secure -p wa -k auth_log\n";
    private static readonly UnixFileMode Mode = (UnixFileMode)Convert.ToInt32("640", 8);

    private static HostSnapshot Host(params string[] folders) =>
        new("/img", false, ImmutableDictionary<string, FileState>.Empty, [], [], ImmutableDictionary<string, PackageInfo>.Empty, [],
            ImmutableDictionary<string, KeyAccess>.Empty, null)
        {
            Directories = folders.ToImmutableDictionary(f => f, _ => new DirectoryState(true, Mode, 0, 0, null)),
        };

    private static FileResource RulesFile() => new("audit", "/etc/audit/rules.d/hipaa.rules", Rules, Mode, "root", "root", "audit");

    [Test]
    public void A_watch_whose_folder_is_missing_is_left_out_and_named()
    {
        var (resources, warnings) = AuditWatches.LeaveOutUnloadable([RulesFile()], Host("/etc", "/var/log"));
        var content = ((FileResource)resources.Single()).Content;
        Assert.Multiple(() =>
        {
            Assert.That(content, Does.Contain("# harden: left out while /var/data does not exist: -w /var/data/phi -p rwxa -k phi_access"));
            Assert.That(content, Does.Contain("\n-w /etc/passwd -p wa -k user_changes\n"), "other watches stay");
            Assert.That(content, Does.Contain("\n-w /var/log/secure -p wa -k auth_log"), "a missing file in an existing folder is watched");
            Assert.That(warnings.Single(), Does.Contain("/var/data/phi is left out").And.Contain("its folder /var/data does not exist"));
        });
    }

    [Test]
    public void A_folder_this_plan_makes_keeps_its_watch()
    {
        var folder = new DirectoryResource("phi-directories", "/var/data/phi", "root", "phi-access", Mode);
        var (resources, warnings) = AuditWatches.LeaveOutUnloadable([RulesFile(), folder], Host("/etc", "/var/log"));
        Assert.That(((FileResource)resources[0]).Content, Is.EqualTo(Rules));
        Assert.That(warnings, Is.Empty);
    }

    [Test]
    public void The_host_reader_is_asked_for_every_watched_folder() =>
        Assert.That(AuditWatches.Needs([RulesFile()]).Select(q => q.Target), Is.EquivalentTo(new[] { "/var/data", "/etc", "/var/log" }));
}
