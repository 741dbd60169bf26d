namespace Harden.Integration.Tests;

/// <summary>
/// Proves <see cref="LiveSshd"/> is real: the root's own sshd, PAM and accounts decide, and the
/// root's sshd_config (Match blocks included) changes who gets in.
/// </summary>
public sealed class LiveSshdTests : RootTest
{
    private const string Password = "Correct-Horse-42-battery";
    private string? _key;

    /// <summary>bob, with a password and a real key pair, in a vanilla root.</summary>
    private async Task<string> BobAsync()
    {
        await Root.AddUserAsync("bob", withKey: false);
        await LiveSshd.SetPasswordAsync(Root, "bob", Password);
        return _key = await LiveSshd.InstallKeyAsync(Root, "bob");
    }

    [TearDown]
    public void DeleteKey()
    {
        if (_key is not null) LiveSshd.DeleteKey(_key);
        _key = null;
    }

    private Task PrependSshdConfigAsync(string text) =>
        File.WriteAllTextAsync(Root.Map("/etc/ssh/sshd_config"), text + Root.ReadText("/etc/ssh/sshd_config"));

    private Task AppendSshdConfigAsync(string text) => File.AppendAllTextAsync(Root.Map("/etc/ssh/sshd_config"), text);

    [Test]
    public async Task A_key_login_runs_a_command_as_the_user_and_nothing_outlives_the_harness()
    {
        var key = await BobAsync();
        var sshd = await LiveSshd.StartAsync(Root);
        try
        {
            Assert.That(LiveSshd.ProcessesInRoot(Root), Is.Not.Empty, "sshd runs chrooted into the root");
            var login = await sshd.LoginWithKeyAsync("bob", key, "id -un");
            Assert.That(login.Succeeded, login + "\n--- sshd ---\n" + sshd.Log);
            Assert.That(login.StandardOutput.Trim(), Is.EqualTo("bob"));
            Assert.That(sshd.Log, Does.Contain("Accepted publickey for bob from 127.0.0.1"));

            // Without the key's public half in authorized_keys, the same key is refused.
            File.WriteAllText(Root.Map("/home/bob/.ssh/authorized_keys"), "");
            var refused = await sshd.LoginWithKeyAsync("bob", key, "id -un");
            Assert.That(refused.Succeeded, Is.False, refused.ToString());
            Assert.That(refused.StandardError, Does.Contain("Permission denied"));
        }
        finally
        {
            sshd.Dispose();
        }
        Assert.That(LiveSshd.ProcessesInRoot(Root), Is.Empty, "processes still running in the root after Dispose");
    }

    [Test]
    public async Task Password_login_works_until_the_config_says_PasswordAuthentication_no()
    {
        var key = await BobAsync();
        Assert.That((await Root.EffectiveSshdAsync())["passwordauthentication"], Is.EqualTo("yes"), "vanilla sshd_config");
        using var sshd = await LiveSshd.StartAsync(Root);

        var login = await sshd.LoginWithPasswordAsync("bob", Password, "id -un");
        Assert.That(login.Succeeded, login + "\n--- sshd ---\n" + sshd.Log);
        Assert.That(login.StandardOutput.Trim(), Is.EqualTo("bob"));
        Assert.That(sshd.Log, Does.Contain("Accepted password for bob from 127.0.0.1"));

        // The first value sshd reads wins, so a line at the top overrides the rest of the file.
        await PrependSshdConfigAsync("PasswordAuthentication no\n");
        await sshd.RestartAsync();

        var refused = await sshd.LoginWithPasswordAsync("bob", Password, "id -un");
        Assert.That(refused.Succeeded, Is.False, refused.ToString());
        Assert.That(refused.StandardOutput, Is.Empty);
        Assert.That(refused.StandardError, Does.Contain("Permission denied (publickey)"), "password no longer offered");
        // sshd is up and still lets the key in: the refusal is the configuration's doing.
        var withKey = await sshd.LoginWithKeyAsync("bob", key, "id -un");
        Assert.That(withKey.Succeeded, withKey + "\n--- sshd ---\n" + sshd.Log);
    }

    [Test]
    public async Task A_Match_block_at_the_end_turns_password_login_back_on_despite_a_global_no()
    {
        await BobAsync();
        await PrependSshdConfigAsync("PasswordAuthentication no\n");
        await AppendSshdConfigAsync("\nMatch Address 127.0.0.0/8\n    PasswordAuthentication yes\n");

        // The global view says no, which is all a check of the global settings would see…
        Assert.That((await Root.EffectiveSshdAsync())["passwordauthentication"], Is.EqualTo("no"));
        var local = await Root.Chroot("sshd", "-T", "-C", "user=bob,host=localhost,addr=127.0.0.1");
        Assert.That(local.StandardOutput, Does.Contain("passwordauthentication yes\n"), local.StandardError);

        // …but for a connection the Match applies to, sshd takes passwords.
        using var sshd = await LiveSshd.StartAsync(Root);
        var login = await sshd.LoginWithPasswordAsync("bob", Password, "id -un");
        Assert.That(login.Succeeded, login + "\n--- sshd ---\n" + sshd.Log);
        Assert.That(login.StandardOutput.Trim(), Is.EqualTo("bob"));
    }
}
