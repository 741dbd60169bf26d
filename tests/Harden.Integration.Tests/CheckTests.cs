using System.Text.Json;
using System.Xml.Linq;

namespace Harden.Integration.Tests;

/// <summary>
/// harden check on the real Debian root: it fails what a fresh root lacks (each control with its
/// 45 CFR citation), passes every applicable control after apply, and its JSON, JUnit and HTML
/// forms are read by real consumers (python3-jsonschema, xmllint with a JUnit schema, headless Chromium).
/// </summary>
public sealed class CheckTests : RootTest
{
    private static string Schema => Path.Combine(ShippedArtifactsTests.RepoRoot, "docs/check.schema.json");

    private static string JUnitSchema => Path.Combine(AppContext.BaseDirectory, "Schemas/junit.xsd");

    [Test]
    public async Task A_fresh_root_fails_with_citations_and_after_apply_every_applicable_control_passes()
    {
        var args = await WithOperatorAsync();
        var checkArgs = CheckArgs(args);
        var fresh = await Harden(["check", "--profile", "debian-hipaa", "--format", "json", .. checkArgs]);
        Assert.That(fresh.ExitCode, Is.EqualTo(2), "a control fails on a fresh root\n" + fresh);
        await AssertValidJsonAsync(fresh.Out);
        var before = Controls(fresh.Out);
        foreach (var (id, citation) in new[] { ("ssh", "164.312(a)(1)"), ("audit", "164.312(b)"), ("account-lockout", "164.312(d)"), ("password-aging", "164.312(a)(1)"), ("kernel-modules", "164.310(d)(1)") })
        {
            Assert.That(before[id].GetProperty("status").GetString(), Is.EqualTo("fail"), id);
            Assert.That(before[id].GetProperty("citations").EnumerateArray().Select(c => c.GetProperty("section").GetString()), Does.Contain(citation), id);
            Assert.That(before[id].GetProperty("findings").EnumerateArray().Any(f => !f.GetProperty("passed").GetBoolean() && f.GetProperty("wanted").GetString()!.Length > 0), id);
        }
        Assert.That(before["audit"].GetProperty("citations")[0].GetProperty("title").GetString(), Is.EqualTo("Audit controls"));
        Assert.That(before["encryption-at-rest"].GetProperty("status").GetString(), Is.EqualTo("not-applicable"), "an offline image has no block devices to ask");
        Assert.That(before["business-associate-agreement"].GetProperty("status").GetString(), Is.EqualTo("manual"));
        Assert.That(before["firewall"].GetProperty("status").GetString(), Is.EqualTo("not-applicable"), "opt-in and off");

        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        var after = await Harden(["check", "--profile", "debian-hipaa", "--format", "json", "--set", "baa_reference=BAA-2026-014", .. checkArgs]);
        Assert.That(after.ExitCode, Is.Zero, "everything applicable passes after apply\n" + after);
        await AssertValidJsonAsync(after.Out);
        var controls = Controls(after.Out);
        Assert.That(controls.Values.Where(c => c.GetProperty("status").GetString() == "fail").Select(c => c.GetProperty("id").GetString()), Is.Empty);
        Assert.That(controls["ssh-effective"].GetProperty("status").GetString(), Is.EqualTo("pass"), "sshd -T agrees");
        Assert.That(controls["ssh-effective"].GetProperty("findings").EnumerateArray().Select(f => f.GetProperty("subject").GetString()), Does.Contain("sshd -T: permitrootlogin"));
        Assert.That(controls["pam-stack"].GetProperty("status").GetString(), Is.EqualTo("pass"), "pam-auth-update put faillock and pwquality in the stack");
        Assert.That(controls["business-associate-agreement"].GetProperty("summary").GetString(), Does.Contain("BAA-2026-014"));

        // Drift: an administrator puts password logins back. check fails the ssh controls, with the command that shows it.
        foreach (var file in (string[])["/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/00-hipaa.conf"])
            await File.WriteAllTextAsync(Root.Map(file), Root.ReadText(file).Replace("PasswordAuthentication no", "PasswordAuthentication yes"));
        var drifted = await Harden(["check", "--profile", "debian-hipaa", .. checkArgs]);
        Assert.That(drifted.ExitCode, Is.EqualTo(2), drifted.ToString());
        Assert.That(drifted.Out, Does.Contain("fail           ssh: ").And.Contain("fail           ssh-visible: ").And.Contain("- sshd -T: passwordauthentication: found yes; wanted no"));
        Assert.That(drifted.Out, Does.Contain($"see: chroot {Root.Path} sh -c 'sshd -T'"));
    }

    [Test]
    public async Task Junit_output_passes_a_junit_schema_and_html_renders_in_chromium()
    {
        var args = CheckArgs(await WithOperatorAsync());
        var dir = Directory.CreateTempSubdirectory("harden-check-");
        try
        {
            var junit = Path.Combine(dir.FullName, "check.xml");
            var run = await Harden(["check", "--profile", "debian-hipaa", "--format", "junit", "--out", junit, .. args]);
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.Out, Does.Match(@"Wrote .*check.xml: \d+ passed, \d+ failed"));
            await DebianRoot.EnsurePackagesAsync("libxml2-utils");
            var lint = await DebianRoot.Run("xmllint", ["--noout", "--schema", JUnitSchema, junit]);
            Assert.That(lint.ExitCode, Is.Zero, lint.StandardError);
            var xml = XDocument.Load(junit);
            var suite = xml.Root!.Element("testsuite")!;
            var cases = suite.Elements("testcase").ToList();
            Assert.That(int.Parse(suite.Attribute("tests")!.Value), Is.EqualTo(cases.Count));
            Assert.That(int.Parse(suite.Attribute("failures")!.Value), Is.EqualTo(cases.Count(c => c.Element("failure") is not null)).And.GreaterThan(0));
            Assert.That(cases.Single(c => c.Attribute("name")!.Value.StartsWith("audit:", StringComparison.Ordinal)).Attribute("classname")!.Value, Is.EqualTo("164.312(b) Audit controls"));
            Assert.That(File.GetUnixFileMode(junit), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite), "a report names accounts: owner only");

            var html = Path.Combine(dir.FullName, "check.html");
            Assert.That((await Harden(["check", "--profile", "debian-hipaa", "--format", "html", "--out", html, .. args])).ExitCode, Is.EqualTo(2));
            var page = await File.ReadAllTextAsync(html);
            Assert.That(page, Does.Not.Match("(src|href)=\"(https?:)?//"), "no external assets");
            Assert.That(page, Does.Not.Contain("<script"));
            await DebianRoot.EnsurePackagesAsync("chromium");
            string[] headless = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", $"--user-data-dir={dir.FullName}/profile"];
            var dom = await DebianRoot.Run("chromium", [.. headless, "--dump-dom", $"file://{html}"]);
            Assert.That(dom.StandardOutput, Does.Contain("<table id=\"summary\">").And.Contain("Audit controls").And.Contain("164.312(b)"), dom.StandardError);
            var png = Path.Combine(dir.FullName, "check.png");
            var shot = await DebianRoot.Run("chromium", [.. headless, "--window-size=1280,1600", $"--screenshot={png}", $"file://{html}"]);
            Assert.That(File.Exists(png), shot.StandardError);
            // A blank page compresses to a few kilobytes; the report's text and colours do not.
            Assert.That(new FileInfo(png).Length, Is.GreaterThan(40_000), "the screenshot shows the report");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The drift timer (opt-in): both units pass systemd-analyze verify in the root, the timer is
    /// enabled, and the unit's own command line (run here against the root) writes the report and the
    /// one summary line syslog gets; after drift that line names the failing control and the file.
    /// </summary>
    [Test]
    public async Task Drift_timer_units_verify_and_their_check_logs_one_line_naming_what_drifted()
    {
        var args = await WithOperatorAsync("--set", "drift_check=true", "--set", "drift_check_time=05:10");
        var missing = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(missing.ExitCode, Is.EqualTo(4), "systemd-analyze refuses a unit whose program is not there\n" + missing);
        Assert.That(missing.Error, Does.Contain("Command /usr/bin/harden is not executable"));
        // The Debian package installs harden there; the test's own build stands in for it.
        File.Copy(Path.Combine(AppContext.BaseDirectory, "harden"), Root.Map("/usr/bin/harden"));
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        string[] units = ["/etc/systemd/system/harden-check.service", "/etc/systemd/system/harden-check.timer"];
        var verify = await Root.Chroot(["systemd-analyze", "verify", .. units]);
        Assert.That(verify.ExitCode, Is.Zero, verify.StandardOutput + verify.StandardError);
        Assert.That((await Root.Chroot("systemctl", "is-enabled", "harden-check.timer")).StandardOutput.Trim(), Is.EqualTo("enabled"));
        Assert.That(Root.ReadText(units[1]), Does.Contain("OnCalendar=*-*-* 05:10"));

        var exec = System.Text.RegularExpressions.Regex.Match(Root.ReadText(units[0]), "(?m)^ExecStart=(.+)$").Groups[1].Value.Split(' ');
        Assert.That(exec[0], Is.EqualTo("/usr/bin/harden"));
        Assert.That(exec, Does.Contain("ssh_allow_members=alice").And.Contain("drift_check=true"), "the check runs with this run's settings");
        // The same arguments, against the root from here: its --out is a path inside the root.
        string[] Nightly() => [.. exec.Skip(1).Select((a, i) => i > 0 && exec[i] == "--out" ? Root.Map(a) : a), "--root", Root.Path];
        var clean = await Harden(Nightly());
        Assert.That(clean.ExitCode, Is.Zero, clean.ToString());
        Assert.That(clean.Out, Does.Match(@"^Wrote \S+/var/lib/harden/last-check.json: \d+ passed, 0 failed, \d+ not applicable, \d+ to review\n$"));
        await AssertValidJsonAsync(Root.ReadText("/var/lib/harden/last-check.json"));

        await File.WriteAllTextAsync(Root.Map("/etc/security/faillock.conf"), "deny = 50\n");
        var drifted = await Harden(Nightly());
        Assert.That(drifted.ExitCode, Is.EqualTo(2), drifted.ToString());
        Assert.That(drifted.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1), "one line per run");
        Assert.That(drifted.Out, Does.Contain("1 failed").And.Contain("failing: account-lockout;").And.Contain("1 item(s) drifted: file:/etc/security/faillock.conf"));
    }

    /// <summary>Three hosts' check JSON (a fresh root, the same converged, then drifted) merge into one fleet report.</summary>
    [Test]
    public async Task Report_merge_counts_every_host_and_the_worst_status_per_section()
    {
        var args = CheckArgs(await WithOperatorAsync());
        var dir = Directory.CreateTempSubdirectory("harden-fleet-");
        try
        {
            async Task<string> CheckAs(string host)
            {
                await File.WriteAllTextAsync(Root.Map("/etc/hostname"), host + "\n");
                var file = Path.Combine(dir.FullName, host + ".json");
                await Harden(["check", "--profile", "debian-hipaa", "--format", "json", "--out", file, .. args]);
                return file;
            }
            var fresh = await CheckAs("clinic-fresh");
            Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", "--operator", "alice", .. args])).ExitCode, Is.Zero);
            var converged = await CheckAs("clinic-db");
            await File.WriteAllTextAsync(Root.Map("/etc/audit/rules.d/hipaa.rules"), "-w /etc/passwd -p wa -k identity\n");
            var drifted = await CheckAs("clinic-app");

            // A host's file that claims no failures is counted from its controls, not its claim.
            var claim = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(await File.ReadAllTextAsync(drifted))!;
            claim["counts"] = JsonSerializer.SerializeToElement(new { pass = 99, fail = 0, not_applicable = 0, manual = 0 });
            await File.WriteAllTextAsync(drifted, JsonSerializer.Serialize(claim));
            var json = await Harden("report", "merge", fresh, converged, drifted, "--format", "json");
            Assert.That(json.ExitCode, Is.EqualTo(2), "hosts fail, so the fleet does\n" + json);
            using var fleet = JsonDocument.Parse(json.Out);
            Assert.That(fleet.RootElement.GetProperty("hosts").GetInt32(), Is.EqualTo(3));
            Assert.That(fleet.RootElement.GetProperty("hosts_passing").GetInt32(), Is.EqualTo(1));
            var hosts = fleet.RootElement.GetProperty("host_reports").EnumerateArray().ToDictionary(h => h.GetProperty("host").GetString()!, h => h.Clone());
            string Audit(string host) => hosts[host].GetProperty("sections").EnumerateArray().Single(s => s.GetProperty("section").GetString() == "164.312(b)").GetProperty("status").GetString()!;
            Assert.That((Audit("clinic-fresh"), Audit("clinic-db"), Audit("clinic-app")), Is.EqualTo(("fail", "pass", "fail")));
            Assert.That(hosts["clinic-app"].GetProperty("failing").EnumerateArray().Select(f => f.GetString()), Is.EqualTo(new[] { "audit" }));
            var audit = fleet.RootElement.GetProperty("sections").EnumerateArray().Single(s => s.GetProperty("section").GetString() == "164.312(b)");
            Assert.That((audit.GetProperty("pass").GetInt32(), audit.GetProperty("fail").GetInt32(), audit.GetProperty("title").GetString()), Is.EqualTo((1, 2, "Audit controls")));

            var html = Path.Combine(dir.FullName, "fleet.html");
            var page = await Harden("report", "merge", fresh, converged, drifted, "--out", html);
            Assert.That(page.Out, Does.Contain("3 host(s), 1 passing, 2 with a failing control"));
            Assert.That(await File.ReadAllTextAsync(html), Does.Contain("<table id=\"fleet\">").And.Contain(">clinic-app</a>").And.Not.Contain("<script"));

            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "plan.json"), (await Harden(["plan", "--profile", "debian-hipaa", "--format", "json", .. args])).Out);
            var wrong = await Harden("report", "merge", converged, Path.Combine(dir.FullName, "plan.json"));
            Assert.That(wrong.ExitCode, Is.EqualTo(1));
            Assert.That(wrong.Error, Does.Contain("plan.json' is not a harden check report"));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>An sshd include that plan cannot follow (a symlink) makes sshd's effective settings unverifiable: check fails, never passes.</summary>
    [Test]
    public async Task An_sshd_include_nobody_can_verify_fails_the_check()
    {
        var args = await WithOperatorAsync();
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);
        await File.WriteAllTextAsync(Root.Map("/etc/ssh/local-match"), "Match User alice\n PasswordAuthentication yes\n");
        File.CreateSymbolicLink(Root.Map("/etc/ssh/sshd_config.d/zz-local.conf"), "../local-match");
        var check = await Harden(["check", "--profile", "debian-hipaa", .. CheckArgs(args)]);
        Assert.That(check.ExitCode, Is.EqualTo(2), check.ToString());
        Assert.That(check.Out, Does.Contain("fail           plan-warnings: ").And.Contain("zz-local.conf is a symlink"));
    }

    /// <summary>check takes the profile's arguments but not --operator (it changes nothing, so no one can be locked out).</summary>
    private static string[] CheckArgs(string[] args) =>
        [.. args.Where((a, i) => a != "--operator" && (i == 0 || args[i - 1] != "--operator"))];

    private static Dictionary<string, JsonElement> Controls(string json) =>
        JsonDocument.Parse(json).RootElement.GetProperty("controls").EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!, c => c.Clone());

    /// <summary>Validated by python3-jsonschema (Debian's package) against the schema kept in docs/.</summary>
    internal static async Task AssertValidJsonAsync(string json)
    {
        await DebianRoot.EnsurePackagesAsync("python3-jsonschema");
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, json);
            var result = await DebianRoot.Run("/usr/bin/python3", ["-c",
                "import json, sys, jsonschema; s = json.load(open(sys.argv[1])); jsonschema.Draft202012Validator.check_schema(s); "
                + "jsonschema.Draft202012Validator(s, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER).validate(json.load(open(sys.argv[2])))",
                Schema, file]);
            Assert.That(result.ExitCode, Is.Zero, result.StandardError);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
