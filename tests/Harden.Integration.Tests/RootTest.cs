namespace Harden.Integration.Tests;

/// <summary>Gives every test its own freshly unpacked Debian root, removed afterwards.</summary>
public abstract class RootTest
{
    protected DebianRoot Root { get; private set; } = null!;

    [SetUp]
    public async Task UnpackRoot()
    {
        if (Environment.UserName != "root")
            Assert.Ignore("integration tests unpack and chroot into a Debian root, which needs root");
        Root = await DebianRoot.CreateAsync();
    }

    [TearDown]
    public void RemoveRoot() => Root?.Dispose();

    /// <summary>An operator who keeps SSH access: alice, with a key, added to phi-access by the profile.</summary>
    protected async Task<string[]> WithOperatorAsync(params string[] extra)
    {
        await Root.AddUserAsync("alice", withKey: true);
        return ["--root", Root.Path, "--set", "ssh_allow_members=alice", "--operator", "alice", .. extra];
    }

    /// <summary>Puts a wrapper in front of the root's sshd: the fault is injected for one flag, the real sshd does the rest.</summary>
    protected Task WrapSshdAsync(string onFlag, string flag = "-t") =>
        ReplaceProgramAsync("/usr/sbin/sshd", $"if [ \"$1\" = \"{flag}\" ]; then\n{onFlag}\nfi\nexec /usr/sbin/sshd.real \"$@\"");

    /// <summary>Moves a program of the root aside (to NAME.real) and puts a shell script in its place.</summary>
    protected async Task ReplaceProgramAsync(string path, string script)
    {
        File.Move(Root.Map(path), Root.Map(path + ".real"));
        await File.WriteAllTextAsync(Root.Map(path), $"#!/bin/sh\n{script}\n");
        File.SetUnixFileMode(Root.Map(path), (UnixFileMode)Convert.ToInt32("755", 8));
    }

    protected void RestoreProgram(string path) => File.Move(Root.Map(path + ".real"), Root.Map(path), overwrite: true);

    protected static async Task<CliRun> Harden(params string[] args) => await HardenCli.RunAsync(args);

    protected async Task<Tree> EtcAsync() => await Tree.CaptureAsync(Root.Map("/etc"));

    protected static void AssertUnchanged(Tree before, Tree after) =>
        Assert.That(before.Differences(after), Is.Empty, "the root's /etc changed");
}
