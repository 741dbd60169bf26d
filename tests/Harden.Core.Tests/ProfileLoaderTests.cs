using Harden.Profiles;

namespace Harden.Core.Tests;

public sealed class ProfileLoaderTests
{
    [Test]
    public void Shipped_profile_extends_the_base()
    {
        var profile = ProfileLoader.Load("ubuntu-hipaa");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(profile.Lineage, Is.EqualTo(new[] { "hipaa-base", "ubuntu-hipaa" }));
            Assert.That(profile.Platform, Is.EqualTo("ubuntu"));
            Assert.That(profile.Modules.Select(m => m.Id), Is.EqualTo(new[] { "ssh", "ssh-automation", "ssh-visible", "ssh-permissions", "banner", "pwquality", "account-lockout", "password-history", "login-defaults", "su-restrict", "accounts-review", "home-directories", "session-timeout", "password-aging", "phi-directories", "app-directories", "insecure-services", "unwanted-services", "kernel-sysctl", "core-dumps", "kernel-modules", "boot-safety", "apparmor", "journald", "audit-boot", "patching", "apt-signatures", "package-integrity", "aide", "aide-timer", "clamav", "drift-check", "cron-restrict", "no-ftp", "audit", "audit-retention", "time-sync", "time-servers", "incident-response", "backups", "firewall", "log-forwarding", "audit-syslog", "log-forwarding-quiet" }));
            Assert.That(profile.Modules.Single(m => m.Id == "session-timeout").Citations, Does.Contain("164.312(a)(2)(iii)"));
            Assert.That(profile.FindVariable("session_timeout")!.Default, Is.EqualTo(new VariableValue.Number(900)));
        }
    }

    [Test]
    public void Child_overrides_a_default_and_replaces_or_removes_modules()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("clinic.yaml", """
            name: clinic
            extends: ubuntu-hipaa
            variables:
              session_timeout:
                default: 600
            remove_modules: [log-forwarding]
            modules:
              - id: banner
                title: Clinic banner
                files:
                  - path: /etc/issue.net
                    template: banners/hipaa-banner.txt.sbn
            """);
        var profile = ProfileLoader.Load(path);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(profile.Lineage, Is.EqualTo(new[] { "hipaa-base", "ubuntu-hipaa", "clinic" }));
            Assert.That(profile.FindVariable("session_timeout")!.Default, Is.EqualTo(new VariableValue.Number(600)));
            Assert.That(profile.FindVariable("session_timeout")!.Max, Is.EqualTo(3600), "range is inherited");
            Assert.That(profile.Modules.Select(m => m.Id), Does.Not.Contain("log-forwarding"));
            Assert.That(profile.Modules.Single(m => m.Id == "banner").Files, Has.Length.EqualTo(1));
        }
    }

    [Test]
    public void Default_out_of_range_names_file_and_line()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("p.yaml", "name: p\nextends: hipaa-base\nvariables:\n  session_timeout:\n    default: 5\n");
        Assert.That(() => ProfileLoader.Load(path), Throws.TypeOf<HardenException>()
            .With.Message.Contains("p.yaml:4").And.Message.Contains("out of range"));
    }

    [TestCase("name: p\nvariables: [\n", "p.yaml:3", "malformed YAML")]
    [TestCase("name: p\nmodules:\n  - id: a\n    fils: []\n", "p.yaml:4", "unknown key 'fils'")]
    [TestCase("name: other\n", "p.yaml", "does not match the file name")]
    [TestCase("name: p\nextends: p\n", "p", "cycle")]
    [TestCase("name: p\nextends: nowhere\n", "unknown profile 'nowhere'", "known profiles")]
    [TestCase("name: p\nvariables:\n  x:\n    type: integer\n", "p.yaml:4", "unknown type 'integer'")]
    [TestCase("name: p\nmodules:\n  - id: a\n    handlers: [nope]\n", "handler 'nope'", "not defined")]
    [TestCase("name: p\nmodules:\n  - id: a\n    files:\n      - path: /etc/a\n        template: a.sbn\n        mode: \"0999\"\n", "p.yaml:5", "not octal")]
    public void Bad_profiles_are_refused_with_where_and_why(string yaml, string where, string why)
    {
        using var dir = new TempDirectory();
        var path = dir.Write("p.yaml", yaml);
        Assert.That(() => ProfileLoader.Load(path), Throws.TypeOf<HardenException>()
            .With.Message.Contains(where).And.Message.Contains(why));
    }

    [TestCase("validate: shel", "unknown validate 'shel'")]
    [TestCase("validate: sshdd", "unknown validate 'sshdd'")]
    public void A_misspelt_validator_is_an_error_with_file_and_line(string line, string message)
    {
        using var dir = new TempDirectory();
        var path = dir.Write("typo.yaml", $"""
            name: typo
            extends: ubuntu-hipaa
            modules:
              - id: extra
                files:
                  - path: /etc/extra.conf
                    template: banners/hipaa-banner.txt.sbn
                    {line}
            """);
        Assert.That(() => ProfileLoader.Load(path), Throws.TypeOf<HardenException>()
            .With.Message.Contains("typo.yaml:8").And.Message.Contains(message));
    }

    [TestCase("verify: sshdd", "unknown verify 'sshdd'")]
    [TestCase("frobnicate: []", "unknown key 'frobnicate'")]
    [TestCase("services: [{name: auditd.service, state: enabld}]", "unknown state 'enabld'")]
    [TestCase("directories: [{path: /srv/x, mode: \"17777\"}]", "must be within 0000..7777")]
    public void A_misspelt_module_setting_is_an_error_with_its_line(string line, string message)
    {
        using var dir = new TempDirectory();
        var path = dir.Write("typo.yaml", $"""
            name: typo
            extends: ubuntu-hipaa
            modules:
              - id: extra
                {line}
            """);
        Assert.That(() => ProfileLoader.Load(path), Throws.TypeOf<HardenException>()
            .With.Message.Contains("typo.yaml:").And.Message.Contains(message));
    }
}
