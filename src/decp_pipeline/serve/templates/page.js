"use strict";
(() => {
  const RULES = {{ rules|json_script }};
  const ANCHORS = {{ anchors|json_script }};
  const SHOWN = 1000;  // problems listed at most; the counts say how many there are
  const form = document.getElementById("formulaire");
  const input = document.getElementById("fichier");
  const zone = document.getElementById("depot");
  const chosen = document.getElementById("choisi");
  const button = document.getElementById("verifier");
  const result = document.getElementById("resultat");
  let dropped = null;

  const element = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  };
  const plural = (n, word) => `${n.toLocaleString("fr-FR")} ${word}${n > 1 ? "s" : ""}`;

  // The field's entry in the lists of the page: the longest known prefix of its path, read as JSON
  // (titulaires[0].id) or as XML (titulaires/titulaire[1]/id, whose list element the JSON spelling drops).
  function anchor(version, path) {
    const glossary = version === "2.0" ? "2.0" : "1.5";
    const known = new Set(ANCHORS[glossary] || []);
    const raw = path.replace(/\[\d+\]/g, "").split(/[./]/).filter(Boolean);
    const collapsed = raw.filter((part, i) => i === 0 || raw[i - 1] !== part + "s");
    let best = null;
    for (const parts of [raw, collapsed]) {
      for (let n = parts.length; n > 0; n--) {
        const candidate = parts.slice(0, n).join(".");
        if (known.has(candidate)) {
          if (!best || n > best.n) best = {n, id: `champ-${glossary}-${candidate}`};
          break;
        }
      }
    }
    return best && best.id;
  }

  // What the schema expected, in French, read from the validator's message (validation/messages.py says it in
  // English, in a few fixed shapes); empty when the message says it in no known shape (its detail is shown).
  const HINTS = {
    "a SIRET: 14 digits": "un SIRET : 14 chiffres",
    "a CPV code: 8 digits, optionally followed by -N": "un code CPV : 8 chiffres, suivis éventuellement de -N",
    "a date YYYY-MM-DD": "une date AAAA-MM-JJ",
    "the buyer's SIRET (14 digits) followed by the contract id (7 to 16 characters)":
      "le SIRET de l'acheteur (14 chiffres) suivi de l'identifiant du contrat (7 à 16 caractères)",
  };
  const TYPES = {"a text": "un texte", "a number": "un nombre", "a whole number": "un nombre entier",
                 "true or false": "true ou false", "an object {...}": "un objet {…}", "a list [...]": "une liste […]",
                 "null": "null"};
  const EXPECTED = [
    [/; allowed: (.*)$/s, m => "une des valeurs : " + m[1]],
    [/is below the minimum (.*)$/, m => "au moins " + m[1]],
    [/is above the maximum (.*)$/, m => "au plus " + m[1]],
    [/characters; at most (\d+) allowed$/, m => `un texte de ${m[1]} caractères au plus`],
    [/characters; at least (\d+) required$/, m => `un texte d'au moins ${m[1]} caractères`],
    [/item\(s\); at least (\d+) required$/, m => `au moins ${m[1]} élément(s)`],
    [/item\(s\); at most (\d+) allowed$/, m => `au plus ${m[1]} élément(s)`],
    [/^expected (.+), got /, m => m[1].split(" or ").map(t => TYPES[t] || t).join(" ou ")],
    [/ is not (.+)$/, m => HINTS[m[1]] || ""],
    [/does not match the pattern (.+)$/, m => "une valeur conforme au motif " + m[1]],
    [/^required field is missing$/, () => "ce champ, obligatoire"],
    [/items must be unique$/, () => "des éléments tous différents"],
    [/records must be unique$/, () => "des enregistrements tous différents"],
    [/^field not allowed/, () => "aucun champ que le schéma ne définit pas"],
    [/Expected is \( (.+?) \)/, m => "l'élément " + m[1]],
  ];
  function expected(problem) {
    if (problem.rule === "syntax") return "un fichier JSON ou XML bien formé";
    if (problem.rule === "maxTextLength") return "un texte de 100 000 caractères au plus";
    for (const [pattern, words] of EXPECTED) {
      const match = problem.message.match(pattern);
      if (match) return words(match);
    }
    return "";
  }

  function where(problem) {
    if (problem.record === null) {
      const at = problem.line ? `, ligne ${problem.line}` + (problem.column ? `, colonne ${problem.column}` : "") : "";
      return "le fichier" + at;
    }
    return `n° ${problem.record}` + (problem.id !== null ? ` (id ${problem.id})` : "");
  }

  function fieldCell(version, problem) {
    const cell = element("td");
    if (!problem.path) return cell;
    const id = anchor(version, problem.path);
    const code = element("code", problem.path);
    if (!id) { cell.append(code); return cell; }
    const link = element("a");
    link.href = "#" + id;
    link.title = "La définition de ce champ";
    link.append(code);
    cell.append(link);
    return cell;
  }

  function problemsTable(file) {
    const table = element("table");
    const head = table.createTHead().insertRow();
    for (const title of ["Enregistrement", "Champ", "Problème", "Attendu", "Détail (message du validateur)"]) {
      const th = element("th", title);
      th.scope = "col";
      head.append(th);
    }
    const body = table.createTBody();
    for (const problem of file.problems.slice(0, SHOWN)) {
      const row = body.insertRow();
      row.append(element("td", where(problem)), fieldCell(file.schema_version, problem));
      row.append(element("td", RULES[problem.rule] || `non conforme au schéma (règle ${problem.rule})`));
      row.append(element("td", expected(problem)));
      row.append(element("td", problem.message, "detail"));
    }
    const wrapper = element("div", undefined, "tableau");
    wrapper.append(table);
    return wrapper;
  }

  function verdict(document_) {
    const file = document_.files[0];
    const format = file.schema_version === "2.0" ? "format 2022" : file.schema_version ? `format ${file.schema_version}` : "";
    const what = [format, (file.syntax || "").toUpperCase()].filter(Boolean).join(", ");
    if (file.status === "valid") {
      return [element("h2", "Fichier conforme", "conforme"),
              element("p", `${file.file} : ${plural(file.records, "enregistrement")} conformes au schéma officiel (${what}).`)];
    }
    if (file.status === "unreadable") {
      return [element("h2", "Fichier illisible", "non-conforme"), element("p", file.unreadable)];
    }
    const summary = file.problems.some(p => p.rule === "syntax")
      ? `${file.file} n'est pas un fichier JSON ou XML bien formé : il faut le corriger avant toute autre vérification.`
      : `${file.file} : ${plural(file.invalid_records, "enregistrement")} à corriger sur ${file.records.toLocaleString("fr-FR")}, ` +
        `${plural(file.problem_count, "problème")}` + (what ? ` (${what}).` : ".");
    const parts = [element("h2", "Fichier non conforme", "non-conforme"), element("p", summary), problemsTable(file)];
    if (file.problems.length > SHOWN) parts.push(element("p", `Seuls les ${SHOWN} premiers problèmes sont affichés.`));
    return parts;
  }

  function show(status, body) {
    let parts;
    if ((status === 200 || status === 422) && body && body.files) parts = verdict(body);
    else if (status === 413) parts = [element("h2", "Fichier trop volumineux", "non-conforme"),
                                      element("p", "Le fichier dépasse la taille maximale acceptée par ce service.")];
    else if (status === 503) parts = [element("h2", "Vérification trop longue", "non-conforme"),
                                      element("p", "La vérification a dépassé le temps permis par ce service. Réessayez plus tard, ou vérifiez le fichier avec la commande decp validate.")];
    else parts = [element("h2", "Demande refusée", "non-conforme"),
                  element("p", (body && body.error) || `Le service a répondu ${status}.`)];
    result.replaceChildren(...parts);
    const heading = result.querySelector("h2");
    heading.tabIndex = -1;
    heading.focus();
  }

  function choose(file) {
    chosen.textContent = file ? `Fichier choisi : ${file.name} (${plural(file.size, "octet")})` : "";
  }

  input.addEventListener("change", () => { dropped = null; choose(input.files[0]); });
  zone.addEventListener("dragover", event => { event.preventDefault(); zone.classList.add("survol"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("survol"));
  zone.addEventListener("drop", event => {
    event.preventDefault();
    zone.classList.remove("survol");
    if (event.dataTransfer.files.length) { dropped = event.dataTransfer.files[0]; choose(dropped); }
  });

  form.addEventListener("submit", async event => {
    event.preventDefault();
    const file = dropped || input.files[0];
    if (!file) {
      result.replaceChildren(element("p", "Choisissez d'abord un fichier.", "non-conforme"));
      input.focus();
      return;
    }
    const data = new FormData();
    data.append("file", file, file.name);
    const version = document.getElementById("version").value;
    button.disabled = true;
    result.replaceChildren(element("p", "Vérification en cours…"));
    try {
      const answer = await fetch("/api/validate?schema_version=" + encodeURIComponent(version), {method: "POST", body: data});
      const body = await answer.json().catch(() => null);
      show(answer.status, body);
    } catch (error) {
      result.replaceChildren(element("p", "Le service n'a pas répondu. Vérifiez la connexion et réessayez.", "non-conforme"));
    } finally {
      button.disabled = false;
    }
  });
})();
