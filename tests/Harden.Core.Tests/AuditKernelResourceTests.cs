using System.Collections.Immutable;
using System.Text;
using Harden.Host;
using Harden.Resources;

namespace Harden.Core.Tests;

/// <summary>The kernel's loaded audit rules against the compiled file, as plan sees them (auditctl -l output as the kernel prints it).</summary>
public sealed class AuditKernelResourceTests
{
    private const string Compiled = "-D\n-b 8192\n-f 1\n-w /var/data/phi -p rwxa -k phi_access\n-a always,exit -F arch=b64 -S unlink -S rmdir -k file_deletion\n";
    private const string Loaded = "-w /var/data/phi -p rwxa -k phi_access\n-a always,exit -F arch=b64 -S unlink,rmdir -F key=file_deletion\n";

    private static HostSnapshot Host(bool live, KernelAudit? kernel) =>
        new("/", live,
            ImmutableDictionary<string, FileState>.Empty.Add(AuditKernelResource.CompiledRules,
                new FileState(true, Encoding.UTF8.GetBytes(Compiled), (UnixFileMode)Convert.ToInt32("640", 8), 0, 0, null)),
            [], [], ImmutableDictionary<string, PackageInfo>.Empty, [], ImmutableDictionary<string, KeyAccess>.Empty, null)
        { KernelAudit = kernel };

    private static KernelAudit Kernel(string rules, bool immutable = false) => new([.. AuditKernelResource.Rules(rules)], immutable);

    [Test]
    public void Every_compiled_rule_loaded_is_no_change() =>
        Assert.That(new AuditKernelResource("audit").Plan(Host(true, Kernel(Loaded))).IsChange, Is.False);

    [Test]
    public void An_offline_root_has_no_kernel_to_compare() =>
        Assert.That(new AuditKernelResource("audit").Plan(Host(false, null)).IsChange, Is.False);

    [Test]
    public void Rules_missing_from_the_kernel_are_drift_that_apply_loads()
    {
        var change = new AuditKernelResource("audit").Plan(Host(true, Kernel("No rules\n")));
        Assert.That(change.IsChange);
        Assert.That(change.Reason, Does.Contain("the kernel has 0 of the 2 audit rules").And.Contain("watch /var/data/phi, key phi_access, key file_deletion").And.Contain("augenrules --load loads them"));
    }

    [Test]
    public void Immutable_rules_say_a_reboot_is_needed()
    {
        var change = new AuditKernelResource("audit").Plan(Host(true, Kernel("-w /var/data/phi -p rwxa -k phi_access\n", immutable: true)));
        Assert.That(change.Reason, Does.Contain("1 of the 2").And.Contain("immutable (-e 2)").And.Contain("reboot"));
    }

    [Test]
    public void A_new_watch_with_a_key_the_kernel_already_has_is_still_missing()
    {
        var change = new AuditKernelResource("audit").Plan(Host(true, Kernel(Loaded.Replace("/var/data/phi", "/srv/other"))));
        Assert.That(change.Reason, Does.Contain("missing: watch /var/data/phi"));
    }

    [TestCase("-w /etc/passwd -p wa -k user_changes", "user_changes")]
    [TestCase("-a always,exit -F arch=b32 -S execve -F euid=0 -F key=root_commands", "root_commands")]
    [TestCase("-a always,exit -F arch=b64 -S execve", null)]
    public void A_rules_key_is_read_in_either_spelling(string rule, string? key) =>
        Assert.That(AuditKernelResource.KeyOf(rule), Is.EqualTo(key));
}
