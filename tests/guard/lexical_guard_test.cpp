// LexicalGuard: each check rejects what it should (en, de, fr, es), paraphrases pass, the verdict
// is symmetric and accepts identical texts, options switch checks off and extend the lists.
#include "engram/lexical_guard.hpp"

#include <gtest/gtest.h>

#include <array>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engram/errors.hpp"

namespace {

using engram::GuardVerdict;
using engram::LexicalGuard;
using engram::LexicalGuardOptions;

struct Case {
  std::string_view a;
  std::string_view b;
  std::string_view reason;  // empty: accepted
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      // Paraphrases: accepted.
      {"How do I reset my password?", "I forgot my password, how can I reset it?", ""},
      {"What's the capital of France?", "capital city of France", ""},
      {"How do I turn on dark mode?", "How to enable dark mode", ""},
      {"Wie setze ich mein Passwort zurück?", "Passwort zurücksetzen, wie geht das?", ""},
      {"How much does shipping cost?", "What are the shipping costs?", ""},
      {"Is it possible to cancel my order?", "Can I cancel my order?", ""},
      {"I can't log in", "login not working", ""},
      {"How do I reset my password on Gmail?", "gmail password reset?", ""},
      {"What is the weather in Paris today?", "weather today in Paris", ""},
      {"How do I install Python 3.11 on Ubuntu?", "install python 3.11 ubuntu", ""},
      {"best way to learn rust", "how should I learn rust", ""},
      {"How to delete my account", "I want to delete my account, how?", ""},
      {"What time does the store open?", "when does the store open", ""},
      {"Convert 20 USD to EUR", "convert $20 to euros", ""},
      {"What does numpy.mean do?", "explain numpy.mean", ""},
      {"How do I use git rebase --interactive?", "using --interactive with git rebase", ""},
      {"Is Rust faster than Go?", "Rust faster than Go?", ""},
      {"Python vs Java", "Java vs Python", ""},
      {"difference between TCP and UDP", "difference between UDP and TCP", ""},
      {"cats and dogs", "dogs and cats", ""},
      {"How can I speed up my laptop?", "ways to make my laptop faster", ""},
      {"What's 15% of 200?", "15 percent of 200", ""},
      {"Meeting at 7 am", "meeting at 7am", ""},
      {"Meeting at 7:00", "meeting at 7", ""},
      {"Order #48213 status", "status of order #48213", ""},
      {"Comment réinitialiser mon mot de passe ?", "réinitialiser le mot de passe, comment faire", ""},
      {"¿Cómo cambio mi contraseña?", "cambiar la contraseña, ¿cómo?", ""},
      {"Je ne peux pas me connecter", "je peux pas me connecter", ""},
      {"No puedo iniciar sesión", "no consigo iniciar sesión", ""},
      {"Ich kann mich nicht anmelden", "Anmeldung geht nicht", ""},
      {"How to sign in to Outlook", "Outlook sign in", ""},
      {"Which one is better?", "which is better", ""},
      {"1 ticket please", "one ticket please", ""},
      {"How do I undo a commit in git?", "undo git commit", ""},
      {"Turn off notifications on iPhone", "disable notifications on iPhone", ""},
      {"What is the population of New York?", "New York population", ""},
      {"How do I uninstall Chrome?", "remove chrome, how?", ""},
      {"where can I buy cheap flights", "cheap flights where to buy", ""},
      {"Can you recommend a good book?", "recommend me a good book", ""},
      {"how to print hello world in C++", "print hello world c++", ""},
      {"Was kostet der Versand nach Österreich?", "Versandkosten nach Österreich", ""},
      {"Quel est le prix du billet ?", "prix du billet", ""},
      {"HOW DO I RESET MY PASSWORD", "how do i reset my password", ""},
      {"How To Reset My Password", "password reset how to", ""},
      {"How many days are in a leap year?", "number of days in a leap year", ""},
      // Numbers.
      {"Python 3.11 release notes", "Python 3.12 release notes", "number"},
      {"status of order #48213", "status of order #48231", "number"},
      {"alarm at 7 am", "alarm at 8 am", "number"},
      {"alarm at 7 am", "alarm at 7 pm", "number"},
      {"what happened on 2024-05-01", "what happened on 2024-05-02", "number"},
      {"convert $20 to euros", "convert $30 to euros", "number"},
      {"is 20% a good tip", "is 15% a good tip", "number"},
      {"color #ff00aa", "color #ff00ab", "number"},
      {"ticket ABC-1234", "ticket ABC-1243", "number"},
      {"flights on May 3", "flights on May 4", "number"},
      {"flights on May 3", "flights on June 3", "number"},
      {"two tickets to Berlin", "three tickets to Berlin", "number"},
      {"install node 18", "install node", "number"},
      {"zwei Tickets kaufen", "drei Tickets kaufen", "number"},
      {"deux billets", "trois billets", "number"},
      {"dos entradas", "cinco entradas", "number"},
      {"upgrade to v2.0.1", "upgrade to v2.0.2", "number"},
      {"1 ticket", "2 tickets", "number"},
      // Negation.
      {"Can I cancel my order?", "Can't I cancel my order?", "negation"},
      {"how to lose weight with exercise", "how to lose weight without exercise", "negation"},
      {"Is coffee healthy?", "Is coffee not healthy?", "negation"},
      {"Why does my phone charge?", "Why doesn't my phone charge?", "negation"},
      {"I can log in", "I cannot log in", "negation"},
      {"how to install docker", "how to uninstall docker", "negation"},
      {"how to mount a drive", "how to unmount a drive", "negation"},
      {"Warum startet mein PC?", "Warum startet mein PC nicht?", "negation"},
      {"Kuchen mit Zucker", "Kuchen ohne Zucker", "negation"},
      {"Je peux me connecter", "Je ne peux pas me connecter", "negation"},
      {"café avec sucre", "café sans sucre", "negation"},
      {"Puedo pagar con tarjeta", "No puedo pagar con tarjeta", "negation"},
      {"café con azúcar", "café sin azúcar", "negation"},
      {"is the file readable", "is the file unreadable", "negation"},
      // Antonyms.
      {"How to enable dark mode", "How to disable dark mode", "antonym"},
      {"how to turn on wifi", "how to turn off wifi", "antonym"},
      {"how to enable dark mode", "dark mode disabled", "antonym"},
      {"how to upload a file to google drive", "how to download a file from google drive", "antonym"},
      {"increase font size", "decrease font size", "antonym"},
      {"sort ascending in excel", "sort descending in excel", "antonym"},
      {"how to sign in to outlook", "how to sign out of outlook", "antonym"},
      {"maximum file size", "minimum file size", "antonym"},
      {"how to encrypt a file", "how to decrypt a file", "antonym"},
      {"first day of the month", "last day of the month", "antonym"},
      {"how to open the port", "how to close the port", "antonym"},
      {"buy bitcoin", "sell bitcoin", "antonym"},
      {"Dunkelmodus aktivieren", "Dunkelmodus deaktivieren", "negation"},  // prefix polarity runs first
      {"Lautstärke erhöhen", "Lautstärke verringern", "antonym"},
      {"Wie schalte ich das WLAN ein?", "Wie schalte ich das WLAN aus?", "antonym"},
      {"Datei hochladen", "Datei herunterladen", "antonym"},
      {"ouvrir le fichier", "fermer le fichier", "antonym"},
      {"augmenter le volume", "diminuer le volume", "antonym"},
      {"abrir el archivo", "cerrar el archivo", "antonym"},
      {"comprar acciones", "vender acciones", "antonym"},
      // Entities.
      {"How do I reset my password on Gmail?", "How do I reset my password on Outlook?", "entity"},
      {"What is the capital of France?", "What is the capital of Spain?", "entity"},
      {"how to use numpy.mean", "how to use numpy.median", "entity"},
      {"what does useState do", "what does useEffect do", "entity"},
      {"git push --force", "git push --force-with-lease", "entity"},
      {"rm -rf folder", "rm -r folder", "entity"},
      {"what does \"carpe diem\" mean", "what does \"memento mori\" mean", "entity"},
      {"read the file config.yaml", "read the file settings.yaml", "entity"},
      {"what is snake_case", "what is camelCase", "entity"},
      {"what is snake_case", "what is snake case", ""},  // a name added or respelled, no other name
      // The same sentence with another word in one place: another question.
      {"How do I reset my password?", "How do I reset my router?", "entity"},
      {"how to install docker on ubuntu", "how to install docker on fedora", "entity"},
      {"How do I remove my account?", "How do I delete my account?", ""},         // synonyms
      {"convert celsius to fahrenheit", "conversion celsius to fahrenheit", ""},  // forms of one word
      {"Redirect HTTP to HTTPS in nginx", "Redirect HTTPS to HTTP in nginx", "direction"},
      {"Jet lag when flying from Europe to the US", "Jet lag when flying from the US to Europe", "direction"},
      {"Replace tabs with spaces in vim", "Replace spaces with tabs in vim", "direction"},
      {"Sugar-free chocolate chip cookies", "Classic chocolate chip cookies with brown sugar", "negation"},
      {"gluten-free bread recipe", "bread recipe without gluten", ""},
      {"where is /etc/hosts", "where is /etc/passwd", "entity"},
      {"Quelle est la capitale de la France ?", "Quelle est la capitale de l'Espagne ?", "entity"},
      {"¿Cuál es la capital de Francia?", "¿Cuál es la capital de Italia?", "entity"},
      // Direction.
      {"convert celsius to fahrenheit", "convert fahrenheit to celsius", "direction"},
      {"is rust faster than go", "is go faster than rust", "direction"},
      {"flights from london to paris", "flights from paris to london", "direction"},
      {"translate english to german", "translate german to english", "direction"},
      {"convert pdf into word", "convert word into pdf", "direction"},
      {"von Celsius in Fahrenheit umrechnen", "von Fahrenheit in Celsius umrechnen", "direction"},
      {"Was soll ich für eine Woche in Island einpacken?", "Packliste für eine Woche in Island", ""},
      {"Zug von Berlin nach Hamburg", "Zug von Hamburg nach Berlin", "direction"},
      {"convertir celsius en fahrenheit", "convertir fahrenheit en celsius", "direction"},
      {"vol de paris à londres", "vol de londres à paris", "direction"},
      {"convertir de dólares a euros", "convertir de euros a dólares", "direction"},
      {"es el café más caro que el té", "es el té más caro que el café", "direction"},
      // Role swaps across a verb; symmetric words between the two never reject.
      {"Did the Lakers beat the Celtics?", "Did the Celtics beat the Lakers?", "direction"},
      {"does the dog chase the cat", "does the cat chase the dog", "direction"},
      {"difference between tcp and udp", "difference between udp and tcp", ""},
      {"python vs java for beginners", "java vs python for beginners", ""},
      {"Unterschied zwischen Kaffee und Tee", "Unterschied zwischen Tee und Kaffee", ""},
      // Entities match through plural and possessive endings.
      {"Is the museum open on Mondays?", "Can I visit the museum on a Monday?", ""},
      {"What is the capital of Australia?", "Australia's capital city?", ""},
      {"How to lose weight fast", "How to gain weight fast", "antonym"},
  };
  return all;
}

std::string describe(const Case& c) { return std::string(c.a) + " | " + std::string(c.b); }

TEST(LexicalGuard, EveryCaseHasItsVerdict) {
  const LexicalGuard guard;
  for (const Case& c : cases()) {
    const GuardVerdict v = guard(c.a, c.b);
    EXPECT_EQ(v.accept, c.reason.empty()) << describe(c) << " -> " << v.reason;
    EXPECT_EQ(v.reason, c.reason) << describe(c);
  }
}

TEST(LexicalGuard, SymmetricAndIdentity) {
  const LexicalGuard guard;
  for (const Case& c : cases()) {
    EXPECT_EQ(guard(c.a, c.b).accept, guard(c.b, c.a).accept) << describe(c);
    EXPECT_TRUE(guard(c.a, c.a).accept) << c.a;
    EXPECT_TRUE(guard(c.b, c.b).accept) << c.b;
    EXPECT_TRUE(guard(c.a, c.a).reason.empty());
  }
}

TEST(LexicalGuard, CaseCounts) {
  std::size_t accepted = 0;
  std::size_t per_reason[5] = {};
  const std::string_view reasons[5] = {"number", "negation", "antonym", "entity", "direction"};
  for (const Case& c : cases()) {
    if (c.reason.empty()) ++accepted;
    for (std::size_t r = 0; r < 5; ++r) per_reason[r] += c.reason == reasons[r] ? 1 : 0;
  }
  EXPECT_GE(accepted, 30u);
  for (std::size_t r = 0; r < 5; ++r) EXPECT_GE(per_reason[r], 10u) << reasons[r];
}

TEST(LexicalGuard, ChecksCanBeSwitchedOff) {
  const std::vector<std::pair<std::string_view, std::string_view>> rejects = {
      {"Python 3.11 notes", "Python 3.12 notes"},
      {"Can I cancel my order?", "Can't I cancel my order?"},
      {"How to enable dark mode", "How to disable dark mode"},
      {"What is the capital of France?", "What is the capital of Spain?"},
      {"convert celsius to fahrenheit", "convert fahrenheit to celsius"},
  };
  for (std::size_t check = 0; check < rejects.size(); ++check) {
    LexicalGuardOptions options;
    options.numbers = check != 0;
    options.negation = check != 1;
    options.antonyms = check != 2;
    options.entities = check != 3;
    options.direction = check != 4;
    const LexicalGuard off(options);
    // The check switched off never gives its reason; another may still reject the pair (a
    // one-word difference is also "entity").
    const std::array<std::string_view, 5> names = {"number", "negation", "antonym", "entity", "direction"};
    EXPECT_NE(off(rejects[check].first, rejects[check].second).reason, names[check]) << check;
    EXPECT_EQ(LexicalGuard{}(rejects[check].first, rejects[check].second).reason, names[check]) << check;
  }
}

TEST(LexicalGuard, ExtraListsWork) {
  LexicalGuardOptions options;
  options.extra_antonyms = {{"frobnicate", "defrobulate"}, {"spin up", "spin down"}};
  options.extra_negation_cues = {"nope"};
  const LexicalGuard guard(options);
  EXPECT_EQ(guard("how to frobnicate a widget", "how to defrobulate a widget").reason, "antonym");
  EXPECT_EQ(guard("spin up the server", "spin down the server").reason, "antonym");
  EXPECT_EQ(guard("it works", "nope it works").reason, "negation");
  EXPECT_NE(LexicalGuard{}("how to frobnicate a widget", "how to defrobulate a widget").reason, "antonym");
  EXPECT_EQ(guard.options().extra_negation_cues.size(), 1u);
}

TEST(LexicalGuard, LanguagesSelectLists) {
  EXPECT_THROW(LexicalGuard(LexicalGuardOptions{.languages = {"en", "xx"}}), engram::InvalidArgument);
  EXPECT_THROW(LexicalGuard(LexicalGuardOptions{.extra_negation_cues = {""}}), engram::InvalidArgument);
  const LexicalGuard english(LexicalGuardOptions{.languages = {"en"}});
  EXPECT_TRUE(english("Dunkelmodus aktivieren", "Dunkelmodus deaktivieren").accept ||
              english("Dunkelmodus aktivieren", "Dunkelmodus deaktivieren").reason == "negation");
  EXPECT_FALSE(english("enable dark mode", "disable dark mode").accept);
}

TEST(LexicalGuard, ListSizes) {
  EXPECT_GE(LexicalGuard::antonym_pair_count("en"), 150u);
  EXPECT_GE(LexicalGuard::antonym_pair_count("de"), 40u);
  EXPECT_GE(LexicalGuard::antonym_pair_count("fr"), 40u);
  EXPECT_GE(LexicalGuard::antonym_pair_count("es"), 40u);
  EXPECT_EQ(LexicalGuard::antonym_pair_count("xx"), 0u);
}

TEST(LexicalGuard, InvalidUtf8NeverThrows) {
  const LexicalGuard guard;
  const std::string bad = "caf\xc3";
  GuardVerdict v;
  EXPECT_NO_THROW(v = guard(bad, "cafe"));
  EXPECT_FALSE(v.accept);
  EXPECT_EQ(v.reason, "invalid-utf8");
  EXPECT_EQ(guard("cafe", bad).reason, "invalid-utf8");
  EXPECT_NO_THROW(guard("", ""));
  EXPECT_TRUE(guard("", "").accept);
  const std::string nul("a\0b", 3);
  EXPECT_TRUE(guard(nul, nul).accept);
}

TEST(LexicalGuard, CopiesShareAndStayUsable) {
  const LexicalGuard guard;
  LexicalGuard moved = guard;
  const LexicalGuard target = std::move(moved);  // NOLINT(performance-move-const-arg): a copy, on purpose
  EXPECT_FALSE(target("enable x", "disable x").accept);
  EXPECT_FALSE(moved("enable x", "disable x").accept);  // NOLINT(bugprone-use-after-move): copy semantics
  const engram::Guard as_function = guard;
  EXPECT_TRUE(as_function("How do I reset my password?", "how to reset my password").accept);
}

TEST(LexicalGuard, UnicodeNormalization) {
  const LexicalGuard guard;
  // Decomposed é (e + U+0301) against precomposed, and typographic apostrophes.
  EXPECT_TRUE(guard("Caf\u00e9 in M\u00fcnchen", "cafe\u0301 in mu\u0308nchen").accept);
  EXPECT_EQ(guard("I can log in", "I can\u2019t log in").reason, "negation");
  EXPECT_TRUE(guard("STRASSE in Berlin", "Straße in Berlin").accept);
}

}  // namespace
