using System.Collections.Immutable;
using Harden.Access;
using Harden.Host;

namespace Harden.Core.Tests;

/// <summary>Unit tests of the access model's pure parts: pam_unix's account phase, aging decisions, sshd patterns.</summary>
public sealed class AccessModelTests
{
    private const long Today = 20795;

    private static ShadowEntry Shadow(string line) => ShadowEntry.Parse(line).Values.Single();

    [TestCase("a:$y$x:20700:0:99999:7:::", AccountPhase.Allowed)]
    [TestCase("a:$y$x:20000:0:90:7:::", AccountPhase.NewPasswordRequired)]
    [TestCase("a:$y$x:20000:0:90:7:30::", AccountPhase.PasswordExpired)]
    [TestCase("a:$y$x:0:0:99999:7:::", AccountPhase.NewPasswordRequired)]
    [TestCase("a:$y$x:20700:0:99999:7::20795:", AccountPhase.AccountExpired)]
    [TestCase("a:$y$x:20700:0:99999:7::20796:", AccountPhase.Allowed)]
    [TestCase("a:$y$x:20900:0:1:7:::", AccountPhase.Allowed)]
    // pam_unix reads an empty last-change field as -1: any maximum then demands a new password at once.
    [TestCase("a:!::0:90:7:::", AccountPhase.NewPasswordRequired)]
    [TestCase("a:!:10000:0:90:7:::", AccountPhase.NewPasswordRequired)]
    [TestCase("a:!:10000:0::7:::", AccountPhase.Allowed)]
    public void Account_phase_follows_pam_unix(string line, AccountPhase expected) =>
        Assert.That(Shadow(line).Phase(Today), Is.EqualTo(expected));

    private static AccountFacts Facts(string line, bool crontab = false, int keys = 1, bool named = false) =>
        new(new UserAccount(line.Split(':')[0], 1001, 1001, "/home/x", "/bin/bash"), Shadow(line), keys, crontab, false, false, named);

    [Test]
    public void Key_only_and_automation_accounts_are_never_aged()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(PasswordAging.Decide(Facts("dave:!:18262:0::7:::"), 7, 90, 14, 14, Today, listed: false).LeftAlone, Is.True);
            Assert.That(PasswordAging.Decide(Facts("ops:*:18262:0::7:::"), 7, 90, 14, 14, Today, listed: false).LeftAlone, Is.True);
            Assert.That(PasswordAging.Decide(Facts("deploy:$y$x:20700:0::7:::", crontab: true), 7, 90, 14, 14, Today, listed: false).LeftAlone, Is.True);
            Assert.That(PasswordAging.Decide(Facts("deploy:$y$x:20790:0::7:::", crontab: true), 7, 90, 14, 14, Today, listed: true).Wanted, Is.EqualTo("7:90:14"));
        }
    }

    [Test]
    public void A_person_with_nopasswd_sudo_is_aged_when_named_as_one()
    {
        var admin = new AccountFacts(new UserAccount("ops", 1001, 1001, "/home/ops", "/bin/bash"), Shadow("ops:$y$x:20790:0::7:::"), 1, false, false, true, false);
        Assert.That(PasswordAging.Decide(admin, 7, 90, 14, 14, Today, listed: false).LeftAlone, Is.True, "NOPASSWD sudo alone reads as automation");
        Assert.That(PasswordAging.Decide(admin with { NamedPerson = true }, 7, 90, 14, 14, Today, listed: false).Wanted, Is.EqualTo("7:90:14"));
    }

    [Test]
    public void An_old_password_gets_a_grace_window_that_a_second_run_keeps_and_that_ends()
    {
        var first = PasswordAging.Decide(Facts("carol:$y$x:19723:0::7:::", keys: 0), 7, 90, 14, 14, Today, listed: false);
        Assert.That(first.Wanted, Is.EqualTo($"7:{Today + 14 - 19723}:14"), first.Note);
        var applied = Facts($"carol:$y$x:19723:7:{Today + 14 - 19723}:14:::", keys: 0);
        Assert.That(applied.Shadow!.Phase(Today), Is.EqualTo(AccountPhase.Allowed), "not expired on the spot");
        var second = PasswordAging.Decide(applied, 7, 90, 14, 14, Today + 5, listed: false);
        Assert.That(second.Wanted, Is.EqualTo(first.Wanted), "a later run keeps the same date");
        var lapsed = PasswordAging.Decide(applied, 7, 90, 14, 14, Today + 15, listed: false);
        Assert.That(lapsed.Wanted, Is.EqualTo("7:90:14"), "after the window the policy applies; no new grace");
    }

    [Test]
    public void A_recent_password_gets_the_policy_and_no_date_means_left_alone()
    {
        Assert.That(PasswordAging.Decide(Facts("amy:$y$x:20790:0::7:::"), 7, 90, 14, 14, Today, listed: false).Wanted, Is.EqualTo("7:90:14"));
        Assert.That(PasswordAging.Decide(Facts("amy:$y$x::0::7:::"), 7, 90, 14, 14, Today, listed: false).LeftAlone, Is.True);
    }

    [TestCase("deploy", "deploy", true)]
    [TestCase("dep*", "deploy", true)]
    [TestCase("d?ploy", "deploy", true)]
    [TestCase("*ops", "deploy", false)]
    [TestCase("*", "x", true)]
    public void Sshd_patterns_match_as_OpenSSH_does(string pattern, string name, bool expected) =>
        Assert.That(SshdAccessRules.Glob(pattern, name), Is.EqualTo(expected));

    [Test]
    public void Cron_allow_and_deny_decide_as_Debian_does()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(CronAccess.Allowed("deploy", "root\n", null), Is.False);
            Assert.That(CronAccess.Allowed("deploy", "root\ndeploy\n", "deploy\n"), Is.True, "allow wins over deny");
            Assert.That(CronAccess.Allowed("deploy", null, "deploy\n"), Is.False);
            Assert.That(CronAccess.Allowed("deploy", null, null), Is.True);
        }
    }
}
