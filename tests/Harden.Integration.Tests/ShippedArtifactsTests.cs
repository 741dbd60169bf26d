using CliWrap.Buffered;

namespace Harden.Integration.Tests;

/// <summary>What ships besides the code: the published binary and the shell scripts.</summary>
public sealed class ShippedArtifactsTests
{
    private static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Harden.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("Harden.sln not found above the test output");
        }
    }

    [Test]
    public async Task Published_binary_works_alone_from_any_directory()
    {
        var output = Directory.CreateTempSubdirectory("harden-publish-").FullName;
        try
        {
            var publish = await CliWrap.Cli.Wrap("dotnet")
                .WithArguments(["publish", Path.Combine(RepoRoot, "src/Harden.Cli"), "-c", "Release", "-o", output])
                .WithValidation(CliWrap.CommandResultValidation.None).ExecuteBufferedAsync();
            Assert.That(publish.ExitCode, Is.Zero, publish.StandardOutput + publish.StandardError);
            Assert.That(Directory.GetFiles(output).Select(Path.GetFileName), Is.EquivalentTo(new[] { "harden" }), "one file, nothing beside it");

            var show = await CliWrap.Cli.Wrap(Path.Combine(output, "harden")).WithArguments(["profiles", "show", "ubuntu-hipaa"])
                .WithWorkingDirectory("/").WithValidation(CliWrap.CommandResultValidation.None).ExecuteBufferedAsync();
            Assert.That(show.ExitCode, Is.Zero, show.StandardError);
            Assert.That(show.StandardOutput, Does.Contain("session_timeout").And.Contain("45 CFR 164.312(b)"));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [TestCase(".ci/run")]
    [TestCase("tests/bench/bench.sh")]
    public async Task Shell_scripts_pass_shellcheck(string script)
    {
        await DebianRoot.EnsureToolAsync("shellcheck");
        var result = await CliWrap.Cli.Wrap("shellcheck").WithArguments([Path.Combine(RepoRoot, script)])
            .WithValidation(CliWrap.CommandResultValidation.None).ExecuteBufferedAsync();
        Assert.That(result.ExitCode, Is.Zero, result.StandardOutput);
    }
}
