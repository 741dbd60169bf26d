using System.Management.Automation.Language;

namespace Harden.Core.Tests;

/// <summary>PowerShell cannot be installed here, so its own parser keeps build.ps1 valid.</summary>
public sealed class BuildScriptTests
{
    [Test]
    public void Build_script_parses_without_errors()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "build.ps1"))) dir = dir.Parent;
        Assert.That(dir, Is.Not.Null, "build.ps1 not found above the test output");

        var ast = Parser.ParseFile(Path.Combine(dir!.FullName, "build.ps1"), out _, out var errors);

        Assert.That(errors.Select(e => $"{e.Extent.StartLineNumber}: {e.Message}"), Is.Empty);
        var commands = ast.FindAll(a => a is CommandAst, true).Cast<CommandAst>().Select(c => c.GetCommandName()).ToList();
        Assert.That(commands, Does.Contain("Invoke-Dotnet"));
    }
}
