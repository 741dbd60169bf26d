using System.Collections.Immutable;
using Harden.Profiles;
using Harden.Rendering;

namespace Harden.Core.Tests;

public sealed class TemplateRendererTests
{
    private sealed class MemoryTemplates(params (string Name, string Text)[] templates) : ITemplateSource
    {
        public string? TryRead(string name) => templates.FirstOrDefault(t => t.Name == name).Text;
    }

    private static readonly ImmutableSortedDictionary<string, VariableValue> Values =
        new Dictionary<string, VariableValue>
        {
            ["session_timeout"] = new VariableValue.Number(900),
            ["groups"] = new VariableValue.List(["a", "b"]),
        }.ToImmutableSortedDictionary();

    [Test]
    public void Renders_numbers_and_lists()
    {
        var r = new TemplateRenderer(new MemoryTemplates(("t.sbn", "TMOUT={{ session_timeout }}\nAllowGroups {{ groups | array.join \" \" }}\n")));
        Assert.That(r.Render("t.sbn", Values), Is.EqualTo("TMOUT=900\nAllowGroups a b\n"));
    }

    [Test]
    public void A_misspelt_variable_is_an_error_naming_template_and_line()
    {
        var r = new TemplateRenderer(new MemoryTemplates(("ssh/x.sbn", "# header\nTMOUT={{ sesion_timeout }}\n")));
        Assert.That(() => r.Render("ssh/x.sbn", Values), Throws.TypeOf<HardenException>()
            .With.Message.Contains("ssh/x.sbn:2").And.Message.Contains("sesion_timeout"));
    }

    [Test]
    public void A_syntax_error_is_an_error_naming_template_and_line()
    {
        var r = new TemplateRenderer(new MemoryTemplates(("t.sbn", "ok\n{{ for x in groups }}\nno end\n")));
        Assert.That(() => r.Render("t.sbn", Values), Throws.TypeOf<HardenException>().With.Message.Contains("t.sbn:"));
    }

    [Test]
    public void Includes_cannot_leave_the_templates_folder()
    {
        var r = new TemplateRenderer(new MemoryTemplates(("t.sbn", "{{ include '../../etc/shadow' }}")));
        Assert.That(() => r.Render("t.sbn", Values), Throws.TypeOf<HardenException>().With.Message.Contains("inside templates/"));
    }

    [Test]
    public void A_template_folder_override_cannot_be_escaped()
    {
        using var dir = new TempDirectory();
        var source = new DirectoryTemplateSource(dir.Path, EmbeddedTemplateSource.Instance);
        Assert.That(() => source.TryRead("../outside.sbn"), Throws.TypeOf<HardenException>().With.Message.Contains("escapes"));
    }
}
