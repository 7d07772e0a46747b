// The built-in word lists of LexicalGuard (see guard_word_lists.hpp). Readable tables; edit here.
#include "guard_word_lists.hpp"

#include <array>

namespace engram::guard_detail {
namespace {

using std::string_view_literals::operator""sv;

// ---------------------------------------------------------------------------------------------
// English
// ---------------------------------------------------------------------------------------------
constexpr AntonymRow kEnAntonyms[] = {
    // switches and settings
    {"enable", "disable"},
    {"on", "off"},
    {"open|opened|opening", "close|closed|closing|shut"},
    {"activate|activation", "deactivate|deactivation"},
    {"turn on|switch on", "turn off|switch off"},
    {"show|shown|showing", "hide|hidden|hiding"},
    {"visible", "invisible|hidden"},
    {"allow|allowed|permit", "deny|denied|block|blocked|forbid|forbidden|disallow"},
    {"whitelist|allowlist", "blacklist|blocklist"},
    {"lock|locked", "unlock|unlocked"},
    {"mute|muted", "unmute|unmuted"},
    {"block", "unblock"},
    {"pin|pinned", "unpin|unpinned"},
    {"follow|followed", "unfollow|unfollowed"},
    {"subscribe|subscribed", "unsubscribe|unsubscribed"},
    {"freeze|frozen", "unfreeze|unfrozen"},
    {"archive", "unarchive"},
    {"select|selected", "deselect|unselect"},
    {"check|checked", "uncheck|unchecked"},
    {"mount|mounted", "unmount|unmounted"},
    {"install|installation", "uninstall|uninstallation|remove"},
    {"load|loaded", "unload|unloaded"},
    {"pack|packed", "unpack|unpacked"},
    {"zip|zipped", "unzip|unzipped"},
    {"compress|compression|compressed", "decompress|decompression|decompressed|extract"},
    {"encrypt|encryption|encrypted", "decrypt|decryption|decrypted"},
    {"encode|encoding|encoded|encoder", "decode|decoding|decoded|decoder"},
    {"serialize|serialization", "deserialize|deserialization"},
    {"marshal", "unmarshal"},
    {"connect|connected|connection", "disconnect|disconnected"},
    {"attach|attached", "detach|detached"},
    {"plug in|plugged in", "unplug|unplugged"},
    {"link|linked", "unlink|unlinked"},
    {"register|registration", "unregister|deregister"},
    {"login|log in|logged in|logging in|logon|log on|sign in|signed in|signing in|signin",
     "logout|log out|logged out|logging out|logoff|log off|sign out|signed out|signing out|signout"},
    {"opt in", "opt out"},
    {"check in", "check out"},
    {"zoom in", "zoom out"},
    {"online", "offline"},
    // editing data
    {"add|added|adding", "remove|removed|removing|delete|deleted|deleting"},
    {"insert|inserted", "delete|deleted"},
    {"create|created|creating", "delete|deleted|destroy|destroyed"},
    {"include|included|including", "exclude|excluded|excluding"},
    {"inclusive", "exclusive"},
    {"import|imported|importing", "export|exported|exporting"},
    {"upload|uploaded|uploading", "download|downloaded|downloading"},
    {"push|pushed", "pull|pulled"},
    {"send|sent|sending", "receive|received|receiving"},
    {"sender", "recipient|receiver"},
    {"incoming", "outgoing"},
    {"inbound", "outbound"},
    {"input", "output"},
    {"ingress", "egress"},
    {"upstream", "downstream"},
    {"uplink", "downlink"},
    {"merge|merged", "split"},
    {"expand|expanded", "collapse|collapsed"},
    {"undo", "redo"},
    {"copy", "paste"},
    {"read", "write|written"},
    {"readable", "writable"},
    {"getter", "setter"},
    {"assemble", "disassemble"},
    {"charge|charging", "discharge|discharging"},
    {"inflate", "deflate"},
    {"inhale", "exhale"},
    {"implicit|implicitly", "explicit|explicitly"},
    {"mutable", "immutable"},
    {"synchronous|sync", "asynchronous|async"},
    {"static", "dynamic"},
    {"global", "local"},
    {"remote", "local"},
    {"client", "server"},
    {"internal", "external"},
    {"public", "private"},
    {"inner", "outer"},
    {"signed", "unsigned"},
    {"plain text|plaintext", "ciphertext"},
    // quantities and comparison
    {"increase|increased|increasing|raise|raised", "decrease|decreased|decreasing|reduce|reduced|lower|lowered"},
    {"increment|incremented", "decrement|decremented"},
    {"maximum|max|maximize|maximise", "minimum|min|minimize|minimise"},
    {"maximal", "minimal"},
    {"most", "least"},
    {"more", "less|fewer"},
    {"many", "few"},
    {"all", "none"},
    {"everything", "nothing"},
    {"everyone|everybody", "nobody|no one"},
    {"always", "never"},
    {"plus", "minus"},
    {"add", "subtract"},
    {"addition", "subtraction"},
    {"multiply|multiplication", "divide|division"},
    {"positive", "negative"},
    {"even", "odd"},
    {"upper|uppercase|upper case", "lower|lowercase|lower case"},
    {"capital letter|capital letters", "small letter|small letters"},
    {"ascending|asc", "descending|desc"},
    {"ascend", "descend"},
    {"upgrade|upgraded|upgrading", "downgrade|downgraded|downgrading"},
    {"upvote", "downvote"},
    {"up", "down"},
    {"grow|growing|growth", "shrink|shrinking"},
    {"expand", "shrink"},
    {"rise|rising", "fall|falling"},
    {"gain|gains", "loss|losses"},
    {"gain|gained|gaining", "lose|lost|losing"},
    {"boil|boiling|melt|melting", "freeze|freezing"},
    {"deficiency|deficient|shortage", "excess|overdose|surplus"},
    {"pros|advantages|benefits", "cons|disadvantages|drawbacks"},
    {"benefit|benefits", "risk|risks|danger|dangers"},
    {"crisp|crispy|crunchy", "soggy|mushy"},
    {"thaw|thawed|defrost|defrosted", "freeze|frozen"},
    {"bright|brighter|brighten", "dim|dimmer|darker|darken"},
    {"grant|granted", "revoke|revoked"},
    {"hard|harder|firm", "soft|softer"},
    {"profit|profits", "loss|losses"},
    {"win|won|winning|winner", "lose|lost|losing|loser"},
    {"victory", "defeat"},
    {"success|succeed|successful", "failure|fail|failed|unsuccessful"},
    {"pass|passed|passing", "fail|failed|failing"},
    {"accept|accepted", "reject|rejected|decline|declined|refuse|refused"},
    {"approve|approved|approval", "reject|rejected|deny|denied|rejection"},
    {"agree", "disagree"},
    {"like|likes", "dislike|dislikes"},
    {"love", "hate"},
    {"true", "false"},
    {"yes", "no"},
    {"right", "wrong"},
    {"correct", "incorrect"},
    {"valid", "invalid"},
    {"legal", "illegal"},
    {"possible", "impossible"},
    {"secure", "insecure"},
    {"safe", "unsafe|dangerous"},
    {"healthy", "unhealthy"},
    {"good", "bad"},
    {"better", "worse"},
    {"best", "worst"},
    {"cheap|cheaper|cheapest", "expensive|pricier|priciest"},
    {"fast|faster|fastest|quick|quicker|quickest", "slow|slower|slowest"},
    {"big|bigger|biggest|large|larger|largest", "small|smaller|smallest|little"},
    {"high|higher|highest", "low|lower|lowest"},
    {"long|longer|longest", "short|shorter|shortest"},
    {"tall|taller", "short|shorter"},
    {"wide|wider", "narrow|narrower"},
    {"thick|thicker", "thin|thinner"},
    {"heavy|heavier", "light|lighter"},
    {"easy|easier|easiest", "hard|harder|hardest|difficult"},
    {"strong|stronger", "weak|weaker"},
    {"rich|richer", "poor|poorer"},
    {"full", "empty"},
    {"wet", "dry"},
    {"hot|hotter", "cold|colder"},
    {"warm|warmer", "cool|cooler"},
    {"heating|heater", "cooling|cooler"},
    {"old|older|oldest", "new|newer|newest"},
    {"old|older", "young|younger"},
    {"light", "dark"},
    {"black", "white"},
    {"day", "night"},
    {"morning", "evening"},
    {"sunrise", "sunset"},
    {"summer", "winter"},
    {"spring", "autumn|fall"},
    {"male", "female"},
    {"man|men", "woman|women"},
    {"boy|boys", "girl|girls"},
    {"husband", "wife"},
    {"father|dad", "mother|mom|mum"},
    {"son", "daughter"},
    {"brother", "sister"},
    {"parent", "child"},
    // time and order
    {"before", "after"},
    {"early|earlier|earliest", "late|later|latest"},
    {"past", "future"},
    {"yesterday", "tomorrow"},
    {"previous|prev|preceding", "next|following"},
    {"first", "last"},
    {"begin|beginning|start|started|starting", "end|ended|ending|finish|finished"},
    {"start|started|starting", "stop|stopped|stopping"},
    {"pause|paused", "resume|resumed"},
    {"forward|forwards", "backward|backwards"},
    {"front", "back"},
    {"top", "bottom"},
    {"head", "tail"},
    {"above", "below"},
    {"over", "under"},
    {"inside", "outside"},
    {"interior", "exterior"},
    {"indoor|indoors", "outdoor|outdoors"},
    {"left", "right"},
    {"north|northern", "south|southern"},
    {"east|eastern", "west|western"},
    {"horizontal|horizontally", "vertical|vertically"},
    {"portrait", "landscape"},
    {"row|rows", "column|columns"},
    {"enter|entry|entrance", "exit"},
    {"arrive|arrival|arriving", "depart|departure|departing|leave"},
    {"join|joined", "leave|left"},
    {"hire|hired", "fire|fired"},
    {"employer", "employee"},
    {"landlord", "tenant"},
    {"host", "guest"},
    {"teacher", "student"},
    {"buy|bought|buying|buyer|purchase", "sell|sold|selling|seller"},
    {"lend|lent|lending|lender", "borrow|borrowed|borrowing|borrower"},
    {"credit", "debit"},
    {"deposit", "withdraw|withdrawal"},
    {"income", "expense|expenses"},
    {"asset|assets", "liability|liabilities"},
    {"present", "absent"},
    {"available", "unavailable"},
    {"friend", "enemy"},
    {"attack", "defend|defense|defence"},
    {"offense|offence", "defense|defence"},
};

constexpr std::string_view kEnNegation[] = {
    "not",    "no",     "never",  "without", "cannot", "nothing", "none",     "nobody",  "neither", "nor",   "nowhere",
    "non",    "dont",   "doesnt", "didnt",   "cant",   "couldnt", "shouldnt", "wouldnt", "isnt",    "arent", "wasnt",
    "werent", "havent", "hasnt",  "hadnt",   "wont",   "aint",    "mustnt",   "neednt",  "unable",  "avoid",
};

constexpr NumberWord kEnNumbers[] = {
    {"zero", 0},    {"two", 2},   {"three", 3},  {"four", 4},   {"five", 5},    {"six", 6},
    {"seven", 7},   {"eight", 8}, {"nine", 9},   {"ten", 10},   {"eleven", 11}, {"twelve", 12},
    {"twenty", 20}, {"twice", 2}, {"thrice", 3}, {"dozen", 12},
};

constexpr std::string_view kEnSoftOnes[] = {"one"};

constexpr NumberWord kEnMonths[] = {
    {"january", 1},  {"jan", 1},    {"february", 2},  {"feb", 2},       {"march", 3},     {"mar", 3},
    {"april", 4},    {"apr", 4},    {"may", 5},       {"june", 6},      {"jun", 6},       {"july", 7},
    {"jul", 7},      {"august", 8}, {"aug", 8},       {"september", 9}, {"sep", 9},       {"sept", 9},
    {"october", 10}, {"oct", 10},   {"november", 11}, {"nov", 11},      {"december", 12}, {"dec", 12},
};

constexpr std::string_view kEnFunctionWords[] = {
    "how",   "what",   "what's", "why",    "when",  "where", "who",   "whom", "whose", "which", "can",
    "could", "should", "would",  "will",   "shall", "may",   "might", "must", "is",    "are",   "was",
    "were",  "am",     "be",     "been",   "do",    "does",  "did",   "have", "has",   "had",   "please",
    "hi",    "hello",  "hey",    "thanks", "thank", "the",   "a",     "an",   "my",    "your",  "our",
    "their", "his",    "her",    "its",    "i",     "i'm",   "i've",  "i'd",  "i'll",  "it",    "it's",
    "this",  "that",   "these",  "those",  "any",   "some",  "ok",    "okay", "so",    "and",   "or",
    "but",   "if",     "of",     "for",    "with",  "from",  "at",    "by",   "as",    "me",    "you",
    "we",    "they",   "he",     "she",    "us",    "them",  "there", "here", "also",  "just",  "way",
    "best",  "tell",   "show",   "give",   "need",  "want",  "get",   "in",   "on",    "about",
};

constexpr ConnectorWord kEnConnectors[] = {
    {"to", ConnectorKind::kTo, false},
    {"into", ConnectorKind::kTo, false},
    {"than", ConnectorKind::kThan, false},
};

constexpr std::string_view kEnFromWords[] = {"from"};

constexpr std::string_view kEnPrefixes[] = {"un", "dis", "de", "in", "im", "il", "ir", "non"};

// Words that start with a polarity prefix but are no negation of the rest.
constexpr std::string_view kEnPrefixExceptions[] = {
    "design",   "depart",   "department",  "display",  "discover", "discount", "dismiss",    "dissolve",  "disease",
    "dispose",  "dispatch", "discuss",     "disgust",  "distance", "distract", "distribute", "income",    "insight",
    "invoice",  "inform",   "information", "inside",   "install",  "instead",  "invent",     "invest",    "insure",
    "index",    "impress",  "import",      "impose",   "implant",  "improve",  "impact",     "image",     "deliver",
    "define",   "detail",   "defeat",      "deposit",  "desert",   "decode",   "deserve",    "delight",   "derive",
    "denote",   "depend",   "debug",       "decent",   "describe", "deduct",   "degrade",    "deform",    "declare",
    "demand",   "default",  "devote",      "irate",    "unless",   "under",    "until",      "unit",      "union",
    "universe", "unique",   "intend",      "interest", "invite",   "indeed",   "incident",   "island",    "immense",
    "decline",  "deflate",  "dislike",     "disable",  "delay",    "density",  "deport",     "deform",    "inflate",
    "inject",   "insert",   "instance",    "intent",   "intern",   "interval", "input",      "important", "impart",
    "inspect",  "inspire",  "income",      "infuse",
};

// ---------------------------------------------------------------------------------------------
// German
// ---------------------------------------------------------------------------------------------
constexpr AntonymRow kDeAntonyms[] = {
    {"aktivieren|aktiviert|aktiviere|aktivierung", "deaktivieren|deaktiviert|deaktiviere|deaktivierung"},
    {"einschalten|eingeschaltet|schalte ein", "ausschalten|ausgeschaltet|schalte aus"},
    {"ein", "aus"},
    {"öffnen|öffne|geöffnet|offen", "schließen|schließe|geschlossen"},
    {"anmelden|anmeldung|angemeldet|einloggen|eingeloggt", "abmelden|abmeldung|abgemeldet|ausloggen|ausgeloggt"},
    {"hochladen|hochgeladen|upload", "herunterladen|heruntergeladen|download"},
    {"importieren|importiert|import", "exportieren|exportiert|export"},
    {"hinzufügen|hinzugefügt|füge hinzu", "entfernen|entfernt|löschen|gelöscht|lösche"},
    {"erhöhen|erhöhe|erhöhst|erhöht|erhöhung|steigern|steigere",
     "verringern|verringere|verringert|senken|senke|senkst|senkt|gesenkt|reduzieren|reduziere"},
    {"vorteil|vorteile", "nachteil|nachteile"},
    {"maximum|maximal|max", "minimum|minimal|min"},
    {"mehr", "weniger"},
    {"vor|vorher|bevor", "nach|nachher|danach"},
    {"früh|früher", "spät|später"},
    {"erste|ersten|erster|erstes", "letzte|letzten|letzter|letztes"},
    {"kaufen|kauf|gekauft", "verkaufen|verkauf|verkauft"},
    {"leihen|verleihen", "ausleihen|borgen"},
    {"senden|gesendet|schicken|geschickt", "empfangen|erhalten"},
    {"eingehend|eingehende", "ausgehend|ausgehende"},
    {"verschlüsseln|verschlüsselt|verschlüsselung", "entschlüsseln|entschlüsselt|entschlüsselung"},
    {"komprimieren|komprimiert", "dekomprimieren|entpacken|entpackt"},
    {"sperren|gesperrt", "entsperren|entsperrt"},
    {"verbinden|verbunden|verbindung", "trennen|getrennt"},
    {"installieren|installiert|installation", "deinstallieren|deinstalliert|deinstallation"},
    {"starten|gestartet|start", "stoppen|gestoppt|beenden|beendet"},
    {"anzeigen|einblenden|zeigen", "ausblenden|verbergen|verstecken"},
    {"erlauben|erlaubt|zulassen", "verbieten|verboten|blockieren|blockiert"},
    {"akzeptieren|akzeptiert|annehmen", "ablehnen|abgelehnt"},
    {"wahr", "falsch"},
    {"ja", "nein"},
    {"richtig", "falsch"},
    {"oben", "unten"},
    {"aufwärts|aufsteigend", "abwärts|absteigend"},
    {"links", "rechts"},
    {"norden|nord", "süden|süd"},
    {"osten|ost", "westen|west"},
    {"innen|drinnen|innerhalb", "außen|draußen|außerhalb"},
    {"öffentlich|öffentliche", "privat|private"},
    {"billig|billiger|günstig|günstiger", "teuer|teurer"},
    {"schnell|schneller", "langsam|langsamer"},
    {"heiß|warm", "kalt"},
    {"groß|größer", "klein|kleiner"},
    {"hoch|höher", "niedrig|niedriger|tief"},
    {"alt|älter", "neu|neuer|jung|jünger"},
    {"hell", "dunkel"},
    {"gewinnen|gewonnen|gewinn", "verlieren|verloren|verlust"},
    {"plus", "minus"},
    {"eingang|eingabe", "ausgang|ausgabe"},
    {"einzahlen|einzahlung", "abheben|auszahlung"},
    {"ankunft", "abfahrt|abflug"},
    {"immer", "nie|niemals"},
    {"alles", "nichts"},
    {"tag", "nacht"},
    {"sommer", "winter"},
    {"gut|besser", "schlecht|schlechter"},
};

constexpr std::string_view kDeNegation[] = {
    "nicht", "kein",    "keine", "keinen", "keinem",  "keiner", "keines",
    "nie",   "niemals", "ohne",  "nichts", "niemand", "weder",
};

constexpr NumberWord kDeNumbers[] = {
    {"eins", 1}, {"zwei", 2}, {"drei", 3},  {"vier", 4}, {"fünf", 5},   {"sechs", 6},    {"sieben", 7},
    {"acht", 8}, {"neun", 9}, {"zehn", 10}, {"elf", 11}, {"zwölf", 12}, {"zwanzig", 20},
};

constexpr NumberWord kDeMonths[] = {
    {"januar", 1}, {"jänner", 1}, {"februar", 2},   {"märz", 3},     {"april", 4},     {"mai", 5},       {"juni", 6},
    {"juli", 7},   {"august", 8}, {"september", 9}, {"oktober", 10}, {"november", 11}, {"dezember", 12},
};

constexpr std::string_view kDeFunctionWords[] = {
    "wie",  "was", "warum", "wann",  "wo",    "wer",   "welche", "welcher", "welches", "kann", "können", "ich",  "du",
    "er",   "sie", "es",    "wir",   "ihr",   "mein",  "meine",  "meinen",  "dein",    "der",  "die",    "das",  "den",
    "dem",  "des", "ein",   "eine",  "einen", "einem", "einer",  "und",     "oder",    "aber", "ist",    "sind", "von",
    "vom",  "mit", "für",   "auf",   "im",    "am",    "zum",    "zur",     "mich",    "mir",  "dich",   "sich", "gibt",
    "geht", "man", "bitte", "hallo", "soll",  "muss",  "wird",   "werden",  "habe",    "hat",
};

// Frequent words that are (almost) only German: a text with one of them is treated as German
// and its capitalized words (every noun) are not entities.
constexpr std::string_view kDeMarkers[] = {
    "der",  "das",  "und",   "ist",    "nicht", "ich",    "wie",   "ein",    "eine",   "einen",   "mit",
    "für",  "mein", "meine", "meinen", "kann",  "können", "wird",  "werden", "auf",    "sind",    "mich",
    "mir",  "dich", "nach",  "von",    "zum",   "zur",    "warum", "wann",   "welche", "welcher", "auch",
    "noch", "oder", "aber",  "bei",    "über",  "gibt",   "geht",  "kein",   "keine",  "ohne",    "bitte",
    "wo",   "wer",  "dem",   "den",    "des",   "sich",   "habe",  "hat",    "muss",
};

constexpr ConnectorWord kDeConnectors[] = {
    {"nach", ConnectorKind::kTo, false},
    {"zu", ConnectorKind::kTo, false},
    {"in", ConnectorKind::kTo, true},  // "von X in Y"; alone too often a place ("in Island")
    {"als", ConnectorKind::kThan, false},
};

constexpr std::string_view kDeFromWords[] = {"von", "vom", "aus"};

constexpr std::string_view kDePrefixes[] = {"un", "de", "ent", "in", "nicht"};

constexpr std::string_view kDePrefixExceptions[] = {
    "unter",     "unternehmen", "unterricht", "entwickeln",  "enthalten", "entschuldigung", "entscheiden",
    "entdecken", "entfernen",   "entfernung", "information", "interesse", "deutsch",        "deutschland",
};

// ---------------------------------------------------------------------------------------------
// French
// ---------------------------------------------------------------------------------------------
constexpr AntonymRow kFrAntonyms[] = {
    {"avantage|avantages", "inconvénient|inconvénients"},
    {"activer|activé|activée|activation", "désactiver|désactivé|désactivée|désactivation"},
    {"allumer|allumé|allumée", "éteindre|éteint|éteinte"},
    {"ouvrir|ouvert|ouverte|ouverture", "fermer|fermé|fermée|fermeture"},
    {"connecter|connecté|connexion|se connecter", "déconnecter|déconnecté|déconnexion|se déconnecter"},
    {"télécharger|téléchargé", "téléverser|téléversé|envoyer"},
    {"importer|importé|importation", "exporter|exporté|exportation"},
    {"ajouter|ajouté|ajout", "supprimer|supprimé|suppression|retirer|retiré|enlever"},
    {"augmenter|augmenté|augmentation", "diminuer|diminué|diminution|réduire|réduit|baisser"},
    {"maximum|max|maximal|maximale", "minimum|min|minimal|minimale"},
    {"plus", "moins"},
    {"avant", "après"},
    {"tôt", "tard"},
    {"premier|première", "dernier|dernière"},
    {"acheter|achat|acheté", "vendre|vente|vendu"},
    {"prêter|prêté", "emprunter|emprunté"},
    {"envoyer|envoyé|envoi", "recevoir|reçu|réception"},
    {"entrant|entrants|entrante", "sortant|sortants|sortante"},
    {"entrée", "sortie"},
    {"chiffrer|chiffré|crypter|crypté", "déchiffrer|déchiffré|décrypter|décrypté"},
    {"compresser|compressé|compresser", "décompresser|décompressé|extraire"},
    {"verrouiller|verrouillé", "déverrouiller|déverrouillé"},
    {"installer|installé|installation", "désinstaller|désinstallé|désinstallation"},
    {"démarrer|démarré|commencer|début", "arrêter|arrêté|arrêt|finir|fin"},
    {"afficher|affiché|montrer", "masquer|masqué|cacher|caché"},
    {"autoriser|autorisé|permettre|permis", "interdire|interdit|bloquer|bloqué"},
    {"accepter|accepté", "refuser|refusé|rejeter|rejeté"},
    {"vrai", "faux"},
    {"oui", "non"},
    {"haut|en haut", "bas|en bas"},
    {"croissant", "décroissant"},
    {"gauche", "droite"},
    {"nord", "sud"},
    {"intérieur", "extérieur"},
    {"public|publique", "privé|privée"},
    {"cher|chère|chers", "bon marché|pas cher"},
    {"rapide|plus rapide", "lent|lente|plus lent"},
    {"chaud|chaude", "froid|froide"},
    {"grand|grande", "petit|petite"},
    {"ancien|ancienne|vieux|vieille", "nouveau|nouvelle|neuf|neuve"},
    {"clair", "sombre"},
    {"gagner|gagné", "perdre|perdu"},
    {"toujours", "jamais"},
    {"tout", "rien"},
    {"jour", "nuit"},
    {"été", "hiver"},
    {"bon|bonne|meilleur", "mauvais|mauvaise|pire"},
    {"arrivée", "départ"},
    {"hausse", "baisse"},
};

constexpr std::string_view kFrNegation[] = {
    "pas", "jamais", "sans", "aucun", "aucune", "rien", "personne", "ni", "non", "nullement", "guère",
};
constexpr std::string_view kFrWeakNegation[] = {"ne", "n'"};

constexpr NumberWord kFrNumbers[] = {
    {"zéro", 0}, {"deux", 2}, {"trois", 3}, {"quatre", 4}, {"cinq", 5},   {"six", 6},
    {"sept", 7}, {"huit", 8}, {"dix", 10},  {"onze", 11},  {"douze", 12}, {"vingt", 20},
};
constexpr std::string_view kFrSoftOnes[] = {"un", "une"};

constexpr NumberWord kFrMonths[] = {
    {"janvier", 1}, {"février", 2}, {"mars", 3},      {"avril", 4},    {"mai", 5},       {"juin", 6},
    {"juillet", 7}, {"août", 8},    {"septembre", 9}, {"octobre", 10}, {"novembre", 11}, {"décembre", 12},
};

constexpr std::string_view kFrFunctionWords[] = {
    "comment", "quoi", "pourquoi", "quand", "où",    "qui",  "quel", "quelle", "quels",   "je",    "tu",    "il",
    "elle",    "nous", "vous",     "ils",   "elles", "le",   "la",   "les",    "l'",      "un",    "une",   "des",
    "du",      "de",   "d'",       "mon",   "ma",    "mes",  "ton",  "ta",     "son",     "sa",    "et",    "ou",
    "est",     "sont", "puis",     "peux",  "peut",  "pour", "avec", "sur",    "dans",    "ce",    "cette", "qu'",
    "que",     "j'",   "c'",       "s'",    "m'",    "t'",   "se",   "me",     "bonjour", "merci", "svp",
};

constexpr ConnectorWord kFrConnectors[] = {
    {"à", ConnectorKind::kTo, false},     {"en", ConnectorKind::kTo, false},    {"vers", ConnectorKind::kTo, false},
    {"que", ConnectorKind::kThan, false}, {"qu'", ConnectorKind::kThan, false},
};

constexpr std::string_view kFrFromWords[] = {"de", "d'", "du", "depuis"};

constexpr std::string_view kFrPrefixes[] = {"dé", "dés", "in", "im", "il", "ir", "non", "dis"};

constexpr std::string_view kFrPrefixExceptions[] = {
    "information", "important", "importer", "demander", "décider", "décrire", "depuis",
    "dessous",     "dessus",    "désolé",   "dire",     "intérêt", "instant",
};

// ---------------------------------------------------------------------------------------------
// Spanish
// ---------------------------------------------------------------------------------------------
constexpr AntonymRow kEsAntonyms[] = {
    {"activar|activado|activada|activación", "desactivar|desactivado|desactivada|desactivación"},
    {"encender|enciendo|enciende|enciendes|encienden|encendido|encendida|prender|prendo",
     "apagar|apago|apaga|apagas|apagan|apagado|apagada"},
    {"abrir|abierto|abierta", "cerrar|cerrado|cerrada"},
    {"conectar|conectado|conexión", "desconectar|desconectado|desconexión"},
    {"subir|subo|sube|subes|suben|subido", "bajar|bajan|bajado|descargar|descargo|descarga|descargan|descargado"},
    {"importar|importado|importación", "exportar|exportado|exportación"},
    {"añadir|añadido|agregar|agregado", "eliminar|eliminado|quitar|quitado|borrar|borrado"},
    {"aumentar|aumentado|aumento|incrementar", "disminuir|disminuido|reducir|reducido|bajar"},
    {"máximo|máxima|max", "mínimo|mínima|min"},
    {"más", "menos"},
    {"antes", "después"},
    {"temprano", "tarde"},
    {"primero|primera|primer", "último|última"},
    {"comprar|compra|comprado", "vender|venta|vendido"},
    {"prestar|prestado", "pedir prestado"},
    {"enviar|enviado|envío|mandar", "recibir|recibido"},
    {"entrante|entrantes", "saliente|salientes"},
    {"entrada", "salida"},
    {"cifrar|cifrado|encriptar|encriptado", "descifrar|descifrado|desencriptar|desencriptado"},
    {"comprimir|comprimido", "descomprimir|descomprimido|extraer"},
    {"bloquear|bloqueado", "desbloquear|desbloqueado"},
    {"instalar|instalado|instalación", "desinstalar|desinstalado|desinstalación"},
    {"iniciar|iniciado|inicio|empezar|comenzar", "detener|detenido|parar|terminar|fin"},
    {"mostrar|mostrado", "ocultar|ocultado|esconder"},
    {"permitir|permitido", "prohibir|prohibido|denegar|denegado"},
    {"aceptar|aceptado", "rechazar|rechazado"},
    {"verdadero|cierto", "falso"},
    {"sí", "no"},
    {"arriba", "abajo"},
    {"ascendente", "descendente"},
    {"izquierda", "derecha"},
    {"norte", "sur"},
    {"interior|dentro", "exterior|fuera"},
    {"público|pública", "privado|privada"},
    {"barato|barata|más barato", "caro|cara|más caro"},
    {"rápido|rápida", "lento|lenta"},
    {"caliente|calor", "frío|fría"},
    {"grande", "pequeño|pequeña"},
    {"viejo|vieja|antiguo|antigua", "nuevo|nueva"},
    {"claro", "oscuro"},
    {"ganar|ganado", "perder|perdido"},
    {"siempre", "nunca"},
    {"todo", "nada"},
    {"día", "noche"},
    {"verano", "invierno"},
    {"bueno|buena|mejor", "malo|mala|peor"},
    {"llegada", "salida"},
    {"iniciar sesión", "cerrar sesión"},
};

constexpr std::string_view kEsNegation[] = {
    "no", "nunca", "sin", "ningún", "ninguna", "ninguno", "jamás", "tampoco", "nada", "nadie", "ni",
};

constexpr NumberWord kEsNumbers[] = {
    {"cero", 0},  {"dos", 2},  {"tres", 3},  {"cuatro", 4}, {"cinco", 5}, {"seis", 6},
    {"siete", 7}, {"ocho", 8}, {"nueve", 9}, {"diez", 10},  {"doce", 12}, {"veinte", 20},
};
constexpr std::string_view kEsSoftOnes[] = {"un", "uno", "una"};

constexpr NumberWord kEsMonths[] = {
    {"enero", 1}, {"febrero", 2}, {"marzo", 3},      {"abril", 4},    {"mayo", 5},       {"junio", 6},
    {"julio", 7}, {"agosto", 8},  {"septiembre", 9}, {"octubre", 10}, {"noviembre", 11}, {"diciembre", 12},
};

constexpr std::string_view kEsFunctionWords[] = {
    "cómo", "qué", "por",  "porqué", "cuándo", "dónde", "quién", "cuál",    "puedo", "puede", "el", "la",  "los", "las",
    "un",   "una", "unos", "unas",   "mi",     "mis",   "tu",    "su",      "y",     "o",     "es", "son", "de",  "del",
    "para", "con", "en",   "se",     "me",     "yo",    "hola",  "gracias", "lo",    "le",    "al", "hay",
};

constexpr ConnectorWord kEsConnectors[] = {
    {"a", ConnectorKind::kTo, true},
    {"hacia", ConnectorKind::kTo, false},
    {"en", ConnectorKind::kTo, false},
    {"que", ConnectorKind::kThan, false},
};

constexpr std::string_view kEsFromWords[] = {"de", "desde", "del"};

constexpr std::string_view kEsPrefixes[] = {"des", "in", "im", "dis", "anti"};

constexpr std::string_view kEsPrefixExceptions[] = {
    "describir",  "descripción", "desde",  "después",  "desarrollo", "desarrollar", "información",
    "importante", "iniciar",     "inicio", "instante", "interés",    "ir",          "idioma",
};

template <typename T>
constexpr std::span<const T> none() {
  return {};
}

const LanguageLists kEnglish{kEnAntonyms, kEnNegation,        none<std::string_view>(), kEnNumbers,    kEnSoftOnes,
                             kEnMonths,   kEnFunctionWords,   none<std::string_view>(), kEnConnectors, kEnFromWords,
                             kEnPrefixes, kEnPrefixExceptions};
const LanguageLists kGerman{kDeAntonyms,
                            kDeNegation,
                            none<std::string_view>(),
                            kDeNumbers,
                            none<std::string_view>(),
                            kDeMonths,
                            kDeFunctionWords,
                            kDeMarkers,
                            kDeConnectors,
                            kDeFromWords,
                            kDePrefixes,
                            kDePrefixExceptions};
const LanguageLists kFrench{kFrAntonyms,   kFrNegation,  kFrWeakNegation,  kFrNumbers,
                            kFrSoftOnes,   kFrMonths,    kFrFunctionWords, none<std::string_view>(),
                            kFrConnectors, kFrFromWords, kFrPrefixes,      kFrPrefixExceptions};
const LanguageLists kSpanish{kEsAntonyms, kEsNegation,        none<std::string_view>(), kEsNumbers,    kEsSoftOnes,
                             kEsMonths,   kEsFunctionWords,   none<std::string_view>(), kEsConnectors, kEsFromWords,
                             kEsPrefixes, kEsPrefixExceptions};

constexpr UnitWord kUnits[] = {
    {"%", "%"},   {"percent", "%"}, {"per cent", "%"}, {"pct", "%"},     {"prozent", "%"}, {"pourcent", "%"},
    {"$", "$"},   {"usd", "$"},     {"dollar", "$"},   {"dollars", "$"}, {"bucks", "$"},   {"€", "€"},
    {"eur", "€"}, {"euro", "€"},    {"euros", "€"},    {"£", "£"},       {"gbp", "£"},     {"¥", "¥"},
    {"am", "am"}, {"a.m", "am"},    {"pm", "pm"},      {"p.m", "pm"},
};

}  // namespace

const LanguageLists* language_lists(std::string_view code) noexcept {
  if (code == "en"sv) return &kEnglish;
  if (code == "de"sv) return &kGerman;
  if (code == "fr"sv) return &kFrench;
  if (code == "es"sv) return &kSpanish;
  return nullptr;
}

std::span<const UnitWord> unit_words() noexcept { return kUnits; }

namespace {
constexpr std::string_view kSynonymGroups[] = {
    // actions
    "delete|remove|erase|del|rm|wipe",
    "change|modify|alter|edit|update|adjust|set",
    "fix|repair|solve|resolve|troubleshoot",
    "make|create|build|generate|produce",
    "find|locate|search|look|lookup|see|view|check|show|display|list|get",
    "buy|purchase|order",
    "begin|start|launch|run|open",
    "end|finish|complete",
    "stop|halt|kill|terminate|quit|exit|close",
    "use|utilize|employ|apply",
    "need|require",
    "get|obtain|receive|acquire|gain",
    "help|assist|support",
    "learn|study",
    "send|mail|email",
    "recover|restore|retrieve|reset|regain",
    "speed|accelerate|faster|optimize|improve",
    "cook|bake|prepare|make",
    "reverse|invert|flip",
    "combine|merge|join|concatenate|concat",
    "rename|name",
    "copy|duplicate|clone",
    "transfer|move|migrate",
    "cancel|terminate|stop|end",
    "clean|clear",
    "count|tally",
    "measure|calculate|compute|determine",
    "pick|choose|select",
    "tell|explain|describe|define",
    "keep|store|save|preserve",
    "check|verify|test|confirm",
    "pay|payment|paid",
    "visit|see|tour",
    "travel|trip|journey|vacation|holiday",
    "book|reserve|reservation|booking",
    // things
    "house|home|apartment|flat",
    "shop|store|retailer",
    "car|auto|automobile|vehicle",
    "photo|picture|image|pic|photograph",
    "movie|film",
    "error|issue|problem|bug|trouble|fault",
    "phone|mobile|cellphone|smartphone|iphone|android",
    "laptop|notebook|computer|pc",
    "job|work|career|position|role|employment",
    "cost|price|fee|charge|rate|pricing",
    "money|cash|funds",
    "kid|child|children|kids",
    "doctor|physician|gp",
    "password|passcode|pin|credentials",
    "account|profile",
    "email|e-mail|mail",
    "website|site|webpage|page",
    "app|application|program|software",
    "folder|directory|dir",
    "file|document|doc",
    "string|str|text",
    "list|array",
    "dictionary|dict|map|hashmap",
    "function|method|func",
    "variable|var",
    "number|num",
    "sign|signature",
    "refund|reimbursement|money back",
    "shipping|delivery|postage",
    "package|parcel",
    "hours|time|times|schedule|timetable",
    "weather|forecast",
    "city|town",
    "country|nation",
    "recipe|dish",
    "way|method|approach",
    "tip|advice|suggestion|recommendation",
    "cheap|inexpensive|affordable|budget|low-cost",
    "big|large|huge",
    "small|little|tiny",
    "quick|fast|rapid|quickly",
    "easy|simple|straightforward",
    "best|top|good|great|recommended",
    "new|latest|recent|current",
    "old|previous|earlier",
    "problem|difficulty",
    "question|query",
    "answer|reply|response",
    "meaning|definition|mean",
    "difference|differ|compare|comparison|vs|versus",
    "benefit|advantage|pro",
    "subscription|membership|plan",
    "customer|client|user",
    "teacher|instructor|tutor",
    "student|pupil|learner",
    "boss|manager|supervisor",
    "salary|pay|wage|income",
    "exam|test",
    "illness|sickness|disease",
    "medicine|medication|drug|pill",
    "sofa|couch",
    "trash|garbage|rubbish|waste",
    "vacation|holiday",
    "flight|plane|airline",
    "convert|conversion|change|turn",
    "install|setup|set",
    "configure|config|configuration|setting|settings|setup",
    "log|login|signin|sign",
    "logs|logging",
    "connect|link|pair|hook",
    "internet|web|online",
    "wifi|wi-fi|wireless|network",
    "bill|invoice",
    "receipt|proof",
    "ticket|pass",
    "nearest|closest|near|nearby",
    // German, French, Spanish
    "löschen|lösche|entfernen|entferne",
    "ändern|ändere|wechseln|wechsle",
    "kaufen|kaufe|bestellen|bestelle",
    "supprimer|effacer|enlever",
    "modifier|changer",
    "acheter|commander",
    "borrar|eliminar|quitar",
    "cambiar|modificar",
    "comprar|pedir",
};
}  // namespace

std::span<const std::string_view> synonym_groups() noexcept { return kSynonymGroups; }

}  // namespace engram::guard_detail
