namespace Harden.Integration.Tests;

/// <summary>
/// The opt-in firewall: checked with the root's own nft, then loaded for real inside a network
/// namespace the test creates (never this machine's own ruleset).
/// </summary>
public sealed class FirewallTests : RootTest
{
    [Test]
    public async Task The_firewall_is_opt_in_checked_loaded_in_a_private_namespace_and_rolled_back()
    {
        var args = await WithOperatorAsync();
        var off = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(off.Out, Does.Contain("firewall: firewall is off (--set firewall=true turns it on)"));

        var confBefore = Root.ReadText("/etc/nftables.conf");
        var on = (string[])["--set", "firewall=true", "--set", "firewall_ssh_sources=10.0.0.0/8,2001:db8::/32", "--set", "firewall_tcp_ports=443"];
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args, .. on]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(apply.Out, Does.Contain("checking /etc/nftables.conf (nft)"));
        Assert.That(apply.Out, Does.Contain("load-firewall skipped"), "loading rules is for a live host");

        var loaded = await DebianRoot.Run("unshare", ["--net", "chroot", Root.Path, "/bin/sh", "-c", "nft -f /etc/nftables.conf && nft list ruleset"]);
        Assert.That(loaded.ExitCode, Is.Zero, loaded.StandardError);
        Assert.That(loaded.StandardOutput, Does.Contain("policy drop").And.Contain("ip saddr 10.0.0.0/8 tcp dport 22 accept")
            .And.Contain("ip6 saddr 2001:db8::/32 tcp dport 22 accept").And.Contain("tcp dport 443 accept").And.Contain("iif \"lo\" accept"));
        Assert.That((await Root.Chroot("systemctl", "is-enabled", "nftables.service")).StandardOutput.Trim(), Is.EqualTo("enabled"));
        var shellcheck = await DebianRoot.Run("shellcheck", [Root.Map("/usr/local/sbin/harden-firewall-load")]);
        Assert.That(shellcheck.ExitCode, Is.Zero, shellcheck.StandardOutput);

        var again = await Harden(["plan", "--profile", "debian-hipaa", "--detailed-exitcode", .. args, .. on]);
        Assert.That(again.ExitCode, Is.Zero, "second plan: nothing to do\n" + again);

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(Root.ReadText("/etc/nftables.conf"), Is.EqualTo(confBefore));
        Assert.That(File.Exists(Root.Map("/usr/local/sbin/harden-firewall-load")), Is.False);
    }

    [TestCase("firewall_ssh_sources=10.0.0.0/8;flush ruleset", "not an IP address or network")]
    [TestCase("firewall_tcp_ports=443,99999", "not a port")]
    public async Task A_bad_network_or_port_is_refused(string set, string message)
    {
        var args = await WithOperatorAsync("--set", "firewall=true", "--set", set);
        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);
        Assert.That(plan.ExitCode, Is.EqualTo(1), plan.ToString());
        Assert.That(plan.Error, Does.Contain(message));
    }
}
