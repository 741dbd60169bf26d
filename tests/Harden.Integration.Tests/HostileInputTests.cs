namespace Harden.Integration.Tests;

/// <summary>Bad input gets a clear message, exit 1, and leaves the root exactly as it was.</summary>
public sealed class HostileInputTests : RootTest
{
    private async Task<CliRun> RefusedAsync(params string[] args)
    {
        var before = await EtcAsync();
        var run = await Harden(args);
        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        AssertUnchanged(before, await EtcAsync());
        Assert.That(Directory.Exists(Root.Map("/var/lib/harden/runs")), Is.False, "no run may be recorded");
        return run;
    }

    [Test]
    public async Task A_value_with_a_newline_cannot_inject_configuration()
    {
        var run = await RefusedAsync("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--accept-lockout-risk",
            "--set", "log_server=x\nPermitRootLogin yes");
        Assert.That(run.Error, Does.Contain("log_server").And.Contain("control character").And.Contain("x\\x0aPermitRootLogin yes"));
    }

    [TestCase("sesion_timeout=600", "unknown variable 'sesion_timeout'", "did you mean 'session_timeout'")]
    [TestCase("session_timeout=soon", "session_timeout", "not a whole number")]
    [TestCase("session_timeout=5", "session_timeout", "out of range (60..3600)")]
    [TestCase("log_server_port=70000", "log_server_port", "out of range (1..65535)")]
    [TestCase("log_server=bad host!", "log_server", "not a host name")]
    [TestCase("phi_directories=/var/data/phi,relative/dir", "phi_directories", "'relative/dir', which is not an absolute path")]
    [TestCase("banner_path=/etc/../shadow", "banner_path", "absolute path without '..'")]
    [TestCase("no_equals_sign", "not KEY=VALUE", "--set")]
    public async Task Bad_variables_are_refused_with_the_reason(string assignment, string first, string second)
    {
        var run = await RefusedAsync("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--accept-lockout-risk", "--set", assignment);
        Assert.That(run.Error, Does.Contain(first).And.Contain(second));
    }

    [Test]
    public async Task Malformed_yaml_names_file_and_line()
    {
        var dir = Directory.CreateTempSubdirectory("harden-profile-").FullName;
        try
        {
            var path = Path.Combine(dir, "clinic.yaml");
            await File.WriteAllTextAsync(path, "name: clinic\nextends: debian-hipaa\nvariables: [unclosed\n  session_timeout: 600\n");
            var run = await RefusedAsync("apply", "--profile", path, "--root", Root.Path, "--yes");
            Assert.That(run.Error, Does.Contain(path + ":4").And.Contain("malformed YAML"));

            await File.WriteAllTextAsync(path, "name: clinic\nextends: debian-hipaa\nvariabels:\n  session_timeout:\n    default: 600\n");
            run = await RefusedAsync("plan", "--profile", path, "--root", Root.Path);
            Assert.That(run.Error, Does.Contain(path + ":3").And.Contain("unknown key 'variabels'"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase("extends: ../../../etc/passwd", "profile name '../../../etc/passwd' is not valid")]
    [TestCase("modules:\n  - id: x\n    files:\n      - path: /etc/x\n        template: ../../../etc/shadow", "must be a relative path inside templates/")]
    [TestCase("modules:\n  - id: x\n    files:\n      - path: /etc/../../x\n        template: ssh/00-hipaa.conf.sbn", "without '.' or '..'")]
    public async Task Profile_and_template_paths_cannot_escape_their_folder(string yaml, string message)
    {
        var dir = Directory.CreateTempSubdirectory("harden-profile-").FullName;
        try
        {
            var path = Path.Combine(dir, "escape.yaml");
            await File.WriteAllTextAsync(path, "name: escape\n" + yaml + "\n");
            var run = await RefusedAsync("plan", "--profile", path, "--root", Root.Path);
            Assert.That(run.Error, Does.Contain(message));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task Unknown_profile_lists_the_known_ones()
    {
        var run = await RefusedAsync("plan", "--profile", "ubuntu-hipa", "--root", Root.Path);
        Assert.That(run.Error, Does.Contain("unknown profile 'ubuntu-hipa'").And.Contain("debian-hipaa, hipaa-base, ubuntu-hipaa"));
    }

    [Test]
    public async Task A_symlinked_target_is_never_written_through()
    {
        var outside = Path.GetTempFileName();
        await File.WriteAllTextAsync(outside, "the real host's file\n");
        try
        {
            File.Delete(Root.Map("/etc/issue.net"));
            File.CreateSymbolicLink(Root.Map("/etc/issue.net"), outside);

            var run = await RefusedAsync("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--accept-lockout-risk");

            Assert.That(run.Error, Does.Contain("symlink").And.Contain("/etc/issue.net"));
            Assert.That(await File.ReadAllTextAsync(outside), Is.EqualTo("the real host's file\n"));
        }
        finally
        {
            File.Delete(outside);
        }
    }

    [Test]
    public async Task A_symlinked_parent_directory_is_never_written_through()
    {
        var outside = Directory.CreateTempSubdirectory("harden-outside-").FullName;
        try
        {
            Directory.Delete(Root.Map("/etc/profile.d"), recursive: true);
            Directory.CreateSymbolicLink(Root.Map("/etc/profile.d"), outside);

            var run = await RefusedAsync("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--accept-lockout-risk");

            Assert.That(run.Error, Does.Contain("symlink").And.Contain("/etc/profile.d"));
            Assert.That(Directory.EnumerateFileSystemEntries(outside), Is.Empty);
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Test]
    public async Task A_missing_root_is_an_error()
    {
        var run = await Harden("plan", "--profile", "debian-hipaa", "--root", Root.Path + "-missing");
        Assert.That(run.ExitCode, Is.EqualTo(1));
        Assert.That(run.Error, Does.Contain("does not exist"));
    }

    [Test]
    public async Task A_planted_lock_link_creates_nothing_outside_the_root()
    {
        var outside = Path.Combine(Path.GetTempPath(), $"harden-canary-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Root.Map("/var/lib/harden"));
        File.CreateSymbolicLink(Root.Map("/var/lib/harden/lock"), outside);

        var run = await RefusedAsync("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--accept-lockout-risk");

        Assert.That(run.Error, Does.Contain("/var/lib/harden/lock: it is a symlink"));
        Assert.That(File.Exists(outside), Is.False, "nothing was created where the link points");
    }

    [Test]
    public async Task A_linked_templates_sub_folder_cannot_pull_in_a_host_file()
    {
        var templates = Directory.CreateTempSubdirectory("harden-templates-").FullName;
        var secret = Directory.CreateTempSubdirectory("harden-secret-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(secret, "hipaa-banner.txt.sbn"), "HOST SECRET 4242\n");
            Directory.CreateSymbolicLink(Path.Combine(templates, "banners"), secret);

            var run = await RefusedAsync("plan", "--profile", "debian-hipaa", "--root", Root.Path, "--templates", templates);

            Assert.That(run.Error, Does.Contain("is a symlink; templates are read only from real files"));
            Assert.That(run.Out + run.Error, Does.Not.Contain("HOST SECRET 4242"));
        }
        finally
        {
            Directory.Delete(templates, recursive: true);
            Directory.Delete(secret, recursive: true);
        }
    }

    [Test]
    public async Task A_planted_or_edited_manifest_is_refused_and_genuine_runs_still_roll_back()
    {
        await Root.AddUserAsync("alice", withKey: true);
        var before = await EtcAsync();
        var apply = await Harden("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--set", "ssh_allow_members=alice", "--operator", "alice");
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        var runs = Root.Map("/var/lib/harden/runs");
        var genuine = Directory.GetDirectories(runs).Single();
        Assert.That(File.GetUnixFileMode(Root.Map("/var/lib/harden/journal.key")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));

        // A planted run: the genuine manifest, renamed, newer, its backup of /etc/issue.net pointed at /etc/shadow.
        var planted = Path.Combine(runs, "29990101T000000Z-evil00");
        Directory.CreateDirectory(planted + "/files");
        var text = (await File.ReadAllTextAsync(genuine + "/manifest.json"))
            .Replace(Path.GetFileName(genuine), "29990101T000000Z-evil00", StringComparison.Ordinal)
            .Replace("\"sequence\": 1", "\"sequence\": 99", StringComparison.Ordinal)
            .Replace("\"path\": \"/etc/issue.net\"", "\"path\": \"/etc/shadow\"", StringComparison.Ordinal);
        await File.WriteAllTextAsync(planted + "/manifest.json", text);

        var refused = await Harden("rollback", "--root", Root.Path, "--run", "29990101T000000Z-evil00", "--yes");
        var plan = await Harden("plan", "--profile", "debian-hipaa", "--root", Root.Path, "--set", "ssh_allow_members=alice");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(refused.ExitCode, Is.EqualTo(1), refused.ToString());
            Assert.That(refused.Error, Does.Contain("is refused").And.Contain("signature does not verify"));
            Assert.That(plan.Out, Does.Contain("ignoring run state").And.Contain("29990101T000000Z-evil00"));
        }

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        Assert.That(rollback.Out, Does.Contain($"Rolled back run {Path.GetFileName(genuine)}"));
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task A_mount_made_by_an_image_program_never_reaches_this_machine()
    {
        await Root.AddUserAsync("alice", withKey: true);
        // The image's augenrules (run as a handler) mounts over the image's /mnt, as a hostile image might.
        await ReplaceProgramAsync("/usr/sbin/augenrules", "mount -t tmpfs harden-probe-mount /mnt && touch /mnt-was-mounted\nexec /usr/sbin/augenrules.real \"$@\"");

        var apply = await Harden("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--set", "ssh_allow_members=alice", "--operator", "alice");

        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(File.Exists(Root.Map("/mnt-was-mounted")), Is.True, "the program did mount, inside its own namespace");
        Assert.That(await File.ReadAllTextAsync("/proc/self/mounts"), Does.Not.Contain("harden-probe-mount"), "the mount is not on this machine");
    }
}
