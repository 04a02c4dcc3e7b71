/*! ragway employee chat widget. Loaded by loader.js; lives in a Shadow DOM so the host page's
 *  CSS cannot break it and it cannot break the page. Text from the model or the documents is
 *  only ever put into the DOM as text nodes (never as HTML). */
(function () {
  'use strict';
  var w = window;
  var d = document;
  var loader = w.Ragway;
  if (!loader || !loader.config || loader.ready) return;
  var config = loader.config;
  var data = config.data || {};
  var api = config.base.replace(/widget\/v1\/$/, '');
  var storageKey = 'ragway:' + config.key;
  var CSS = "__RAGWAY_CSS__";
  // Every string the widget shows or reads out, by language. `es` is Mexican Spanish (tú, as chat
  // assistants at work in Mexico address employees; docs/i18n-strings.md has the conventions).
  // `{name}` is filled in by `format`. Keep both languages' keys identical.
  var STRINGS = {
    en: {
      title: 'Ask the handbook',
      greeting: 'Hi! Ask me anything about our internal documents.',
      placeholder: 'Ask a question…',
      open: 'Open chat: {title}',
      close: 'Close chat',
      send: 'Send',
      stop: 'Stop answering',
      reset: 'New conversation',
      copy: 'Copy answer',
      copied: 'Copied',
      up: 'Helpful',
      down: 'Not helpful',
      thanks: 'Thanks for your feedback',
      sources: 'Sources',
      source: 'Source {n}: {title}',
      page: 'p. {page}',
      thinking: 'Searching your documents…',
      stopped: '(stopped)',
      you: 'You',
      assistant: 'Assistant',
      notice: 'Answers come from company documents and may be incomplete; check the sources.',
      failed: 'Sorry, something went wrong. Please try again.',
      unreachable: 'The assistant cannot be reached from this page.',
      offline: 'You seem to be offline. Check your connection and try again.',
      rateLimited: 'Sorry, too many questions are being answered right now. Please try again shortly.',
      llmUnavailable: "Sorry, the language model is unavailable right now, so I can't answer. Please try again in a few minutes.",
      searchUnavailable: 'Sorry, document search is unavailable right now. Please try again in a few minutes.',
      sessionExpired: 'Your session has expired. Please reload the page and try again.',
      tooLong: 'Your question is too long; please shorten it.',
      feedbackFailed: 'Sorry, your feedback could not be saved. Please try again later.'
    },
    es: {
      title: 'Pregúntale al manual',
      greeting: '¡Hola! Pregúntame lo que quieras sobre nuestros documentos internos.',
      placeholder: 'Escribe tu pregunta…',
      open: 'Abrir chat: {title}',
      close: 'Cerrar chat',
      send: 'Enviar',
      stop: 'Detener la respuesta',
      reset: 'Nueva conversación',
      copy: 'Copiar respuesta',
      copied: 'Respuesta copiada',
      up: 'Útil',
      down: 'No fue útil',
      thanks: 'Gracias por tu opinión',
      sources: 'Fuentes',
      source: 'Fuente {n}: {title}',
      page: 'pág. {page}',
      thinking: 'Buscando en tus documentos…',
      stopped: '(respuesta detenida)',
      you: 'Tú',
      assistant: 'Asistente',
      notice: 'Las respuestas provienen de documentos de la empresa y pueden estar incompletas; revisa las fuentes.',
      failed: 'Lo siento, algo salió mal. Intenta de nuevo.',
      unreachable: 'No es posible comunicarse con el asistente desde esta página.',
      offline: 'Parece que no tienes conexión. Revisa tu conexión e intenta de nuevo.',
      rateLimited: 'Lo siento, en este momento se están respondiendo demasiadas preguntas. Intenta de nuevo en un momento.',
      llmUnavailable: 'Lo siento, el modelo de lenguaje no está disponible en este momento, así que no puedo responder. Intenta de nuevo en unos minutos.',
      searchUnavailable: 'Lo siento, la búsqueda de documentos no está disponible en este momento. Intenta de nuevo en unos minutos.',
      sessionExpired: 'Tu sesión expiró. Vuelve a cargar la página e intenta de nuevo.',
      tooLong: 'Tu pregunta es demasiado larga; por favor, acórtala.',
      feedbackFailed: 'Lo siento, no se pudo guardar tu opinión. Intenta de nuevo más tarde.'
    }
  };
  // The language tag the UI is in: `data-lang` on the script tag, then the browser's preferred
  // languages, first one the widget speaks wins (`es`, `es-MX`, `es-419`… → es); else English.
  var LANG_TAGS = { en: 'en', es: 'es-MX' };
  function pickLanguage(candidates) {
    for (var i = 0; i < candidates.length; i++) {
      var base = String(candidates[i] || '').trim().toLowerCase().split(/[-_]/)[0];
      if (STRINGS[base]) return base;
    }
    return 'en';
  }
  var nav = w.navigator || {};
  var lang = pickLanguage([data.lang].concat(nav.languages && nav.languages.length ? Array.prototype.slice.call(nav.languages) : [nav.language]));
  var text = STRINGS[lang];
  // The host page may word the heading, greeting and placeholder itself, per language
  // (`data-title-es`, `data-greeting-en`, …) or for all (`data-title`).
  ['title', 'greeting', 'placeholder'].forEach(function (name) {
    var own = data[name + lang.charAt(0).toUpperCase() + lang.slice(1)] || data[name];
    if (own) text[name] = own;
  });
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return values[name] === undefined ? all : String(values[name]);
    });
  }

  // ---- state (survives page loads in sessionStorage) ----
  var state = load();
  var identity = null; // { token } or { getToken }
  var busy = null; // AbortController of the answer in progress

  function load() {
    try {
      var saved = JSON.parse(w.sessionStorage.getItem(storageKey) || 'null');
      if (saved && Array.isArray(saved.messages)) return saved;
    } catch (e) {
      /* storage unavailable or corrupt: start fresh */
    }
    return { session: null, conversationId: null, user: null, open: false, messages: [] };
  }
  function save() {
    try {
      w.sessionStorage.setItem(storageKey, JSON.stringify(state));
    } catch (e) {
      /* private mode or full: the conversation just won't survive a reload */
    }
  }

  // ---- DOM helpers: elements and text only ----
  function el(tag, attrs, children) {
    var node = d.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === 'text') node.textContent = value;
        else if (name === 'class') node.className = value;
        else if (name.slice(0, 2) === 'on') node.addEventListener(name.slice(2), value);
        else node.setAttribute(name, value === true ? '' : value);
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === 'string' ? d.createTextNode(child) : child);
    });
    return node;
  }
  function safeUrl(url) {
    try {
      var parsed = new URL(url, w.location.href);
      return ['http:', 'https:', 'mailto:'].indexOf(parsed.protocol) >= 0 ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  // ---- Markdown subset → DOM (paragraphs, headings, lists, code, emphasis, links, [n]) ----
  function inline(textValue, cite) {
    var out = [];
    var pattern = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\s][^*\n]*\*|(?<![\w])_[^_\n]+_(?![\w]))|(\[[^\]\n]+\]\((?:[^()\s]|\([^()\s]*\))+\))|(\[\d{1,3}\])/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(textValue))) {
      if (match.index > last) out.push(d.createTextNode(textValue.slice(last, match.index)));
      var token = match[0];
      if (match[1]) out.push(el('code', { text: token.slice(1, -1) }));
      else if (match[2]) out.push(el('strong', null, inline(token.slice(2, -2), cite)));
      else if (match[3]) out.push(el('em', null, inline(token.slice(1, -1), cite)));
      else if (match[4]) {
        var split = token.indexOf('](');
        var label = token.slice(1, split);
        var href = safeUrl(token.slice(split + 2, -1));
        out.push(href ? el('a', { href: href, target: '_blank', rel: 'noopener noreferrer' }, [label]) : d.createTextNode(label));
      } else if (match[5]) out.push(cite(Number(token.slice(1, -1))) || d.createTextNode(token));
      last = pattern.lastIndex;
    }
    if (last < textValue.length) out.push(d.createTextNode(textValue.slice(last)));
    return out;
  }
  function markdown(source, cite) {
    var root = d.createDocumentFragment();
    var lines = source.replace(/\r\n?/g, '\n').split('\n');
    var i = 0;
    while (i < lines.length) {
      var line = lines[i];
      if (/^```/.test(line)) {
        var code = [];
        i++;
        while (i < lines.length && !/^```/.test(lines[i])) code.push(lines[i++]);
        i++;
        root.appendChild(el('pre', null, [el('code', { text: code.join('\n') })]));
        continue;
      }
      var heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) {
        root.appendChild(el('p', { class: 'heading' }, [el('strong', null, inline(heading[2], cite))]));
        i++;
        continue;
      }
      if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
        var ordered = /^\s*\d/.test(line);
        var list = el(ordered ? 'ol' : 'ul');
        while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
          list.appendChild(el('li', null, inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ''), cite)));
          i++;
        }
        root.appendChild(list);
        continue;
      }
      if (!line.trim()) {
        i++;
        continue;
      }
      var para = [];
      while (i < lines.length && lines[i].trim() && !/^```|^#{1,6}\s|^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) para.push(lines[i++]);
      var p = el('p');
      para.forEach(function (l, n) {
        if (n) p.appendChild(el('br'));
        inline(l, cite).forEach(function (node) {
          p.appendChild(node);
        });
      });
      root.appendChild(p);
    }
    return root;
  }

  // ---- the UI ----
  var host = el('div', { id: 'ragway-widget', lang: LANG_TAGS[lang], 'data-position': data.position === 'left' ? 'left' : 'right' });
  if (data.color) host.style.setProperty('--ragway-primary', data.color);
  var shadow = host.attachShadow({ mode: 'open' });
  shadow.appendChild(el('style', { text: CSS }));

  var launcher = el('button', {
    type: 'button', class: 'launcher', 'aria-expanded': 'false', 'aria-controls': 'ragway-panel',
    'aria-label': format(text.open, { title: text.title }), title: text.title,
    onclick: function () { setOpen(!state.open); }
  }, [icon('chat')]);
  var log = el('div', { class: 'log', role: 'log', 'aria-label': text.title, 'aria-live': 'polite' });
  var draft = el('div', { class: 'draft', 'aria-hidden': 'true' });
  var scroller = el('div', { class: 'scroller' }, [log, draft]);
  var input = el('textarea', {
    id: 'ragway-input', rows: '1', placeholder: text.placeholder, 'aria-label': text.placeholder,
    maxlength: '4000', onkeydown: onKey
  });
  var send = el('button', { type: 'submit', class: 'send', 'aria-label': text.send, title: text.send }, [icon('send')]);
  var stop = el('button', { type: 'button', class: 'stop', 'aria-label': text.stop, title: text.stop, hidden: true, onclick: abort }, [icon('stop')]);
  var form = el('form', { class: 'composer', onsubmit: onSubmit }, [input, send, stop]);
  var closeButton = el('button', { type: 'button', class: 'icon', 'aria-label': text.close, title: text.close, onclick: function () { setOpen(false); } }, [icon('close')]);
  var resetButton = el('button', { type: 'button', class: 'icon', 'aria-label': text.reset, title: text.reset, onclick: reset }, [icon('reset')]);
  // Announces that an answer is on its way (the streaming text itself is not announced).
  var busyStatus = el('p', { class: 'sr-only', role: 'status' });
  var panel = el('section', { id: 'ragway-panel', class: 'panel', role: 'dialog', lang: LANG_TAGS[lang], 'aria-label': text.title, hidden: true, onkeydown: onPanelKey }, [
    el('header', null, [el('h2', { text: text.title }), resetButton, closeButton]),
    scroller,
    busyStatus,
    form,
    el('p', { class: 'notice', text: text.notice })
  ]);
  shadow.appendChild(panel);
  shadow.appendChild(launcher);

  function icon(name) {
    var paths = {
      chat: 'M4 4h16v11H8l-4 4z',
      send: 'M3 20l18-8L3 4v6l12 2-12 2z',
      stop: 'M7 7h10v10H7z',
      close: 'M6 6l12 12M18 6L6 18',
      reset: 'M4 12a8 8 0 1 0 3-6.2M4 4v5h5',
      copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
      check: 'M5 12l5 5 9-10',
      thumb: 'M7 11v9H4v-9zM7 11l4-8c1.5 0 2.5 1 2 3l-1 4h6a2 2 0 0 1 2 2l-2 6a2 2 0 0 1-2 2H7'
    };
    var svg = d.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    var path = d.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', paths[name]);
    svg.appendChild(path);
    return svg;
  }

  function setOpen(open, quiet) {
    state.open = open;
    save();
    panel.hidden = !open;
    launcher.setAttribute('aria-expanded', String(open));
    host.classList.toggle('open', open);
    if (open) scrollDown();
    if (quiet) return;
    if (open) input.focus();
    else launcher.focus();
  }
  function onPanelKey(event) {
    if (event.key === 'Escape') {
      event.preventDefault();
      setOpen(false);
    }
  }
  function onKey(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : onSubmit(event);
    }
  }
  function onSubmit(event) {
    event.preventDefault();
    var question = input.value.trim();
    if (!question || busy) return;
    input.value = '';
    ask(question);
  }
  function scrollDown() {
    scroller.scrollTop = scroller.scrollHeight;
  }
  function setBusy(controller) {
    busy = controller;
    send.hidden = !!controller;
    stop.hidden = !controller;
    log.setAttribute('aria-busy', controller ? 'true' : 'false');
    busyStatus.textContent = controller ? text.thinking : '';
  }

  function renderAll() {
    log.textContent = '';
    log.appendChild(renderGreeting());
    state.messages.forEach(function (message, index) {
      log.appendChild(renderMessage(message, index));
    });
  }
  function renderGreeting() {
    return el('div', { class: 'message assistant greeting' }, [el('div', { class: 'bubble' }, [el('p', { text: text.greeting })])]);
  }

  // One message: user text, or an assistant answer with citations, sources and actions.
  function renderMessage(message, index) {
    if (message.role === 'user') {
      return el('div', { class: 'message user' }, [
        el('span', { class: 'sr-only', text: text.you + ': ' }),
        el('div', { class: 'bubble' }, [el('p', { text: message.text })])
      ]);
    }
    var prefix = 'ragway-m' + index + '-s';
    var sources = message.sources || [];
    var cite = function (n) {
      var source = sources.filter(function (s) { return s.n === n; })[0];
      if (!source) return null;
      return el('sup', null, [el('a', {
        href: '#' + prefix + n, class: 'cite', 'aria-label': format(text.source, { n: n, title: source.title }),
        onclick: function (event) {
          event.preventDefault();
          var target = shadow.getElementById(prefix + n);
          if (target) {
            target.scrollIntoView({ block: 'nearest' });
            target.focus();
          }
        }
      }, [String(n)])]);
    };
    var body = el('div', { class: 'bubble' });
    body.appendChild(markdown(message.text || '', cite));
    if (message.stopped) body.appendChild(el('p', { class: 'meta', text: text.stopped }));
    if (message.error) body.appendChild(el('p', { class: 'error', role: 'alert', text: message.error }));
    var children = [el('span', { class: 'sr-only', text: text.assistant + ': ' }), body];
    if (sources.length) {
      children.push(el('div', { class: 'sources' }, [
        el('p', { class: 'sources-title', text: text.sources }),
        el('ol', null, sources.map(function (s) {
          var details = [s.section, s.page ? format(text.page, { page: s.page }) : null].filter(Boolean).join(' · ');
          var url = s.url ? safeUrl(s.url) : null;
          var title = url ? el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: s.title }) : el('span', { class: 'title', text: s.title });
          return el('li', { id: prefix + s.n, tabindex: '-1', value: String(s.n) }, [title, details ? el('span', { class: 'details', text: details }) : null]);
        }))
      ]));
    }
    if (message.messageId && !message.error) children.push(actions(message));
    return el('div', { class: 'message assistant', 'data-message-id': message.messageId || null }, children);
  }

  function actions(message) {
    var status = el('span', { class: 'sr-only', role: 'status' });
    var copy = el('button', { type: 'button', class: 'action copy', 'aria-label': text.copy, title: text.copy,
      onclick: function () {
        var done = function () {
          copy.replaceChildren(icon('check'));
          status.textContent = text.copied;
        };
        if (w.navigator.clipboard) w.navigator.clipboard.writeText(message.text).then(done, function () {});
      } }, [icon('copy')]);
    var rate = function (rating) {
      return el('button', {
        type: 'button', class: 'action rate ' + rating, 'aria-label': rating === 'up' ? text.up : text.down,
        title: rating === 'up' ? text.up : text.down, 'aria-pressed': String(message.rating === rating),
        onclick: function () { feedback(message, rating, status); }
      }, [icon('thumb')]);
    };
    return el('div', { class: 'actions' }, [copy, rate('up'), rate('down'), status]);
  }

  // ---- network ----
  // With `data-lang` the server's own messages follow the page's language rather than the
  // browser's (Accept-Language is a CORS-safelisted header: no new preflight requirement).
  var acceptLanguage = null;
  if (data.lang && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(data.lang)) {
    acceptLanguage = data.lang.toLowerCase() === lang ? data.lang : data.lang + ', ' + lang + ';q=0.9';
  }
  function post(path, body, token, signal) {
    var headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    if (acceptLanguage) headers['Accept-Language'] = acceptLanguage;
    return w.fetch(api + 'widget/v1/' + path, { method: 'POST', headers: headers, body: JSON.stringify(body), signal: signal, credentials: 'omit' });
  }
  // The words for a failure the server gave no message for, by its error code or HTTP status.
  function localError(code, status) {
    if (code === 'rate_limited' || code === 'overloaded' || status === 429) return text.rateLimited;
    if (code === 'llm_unavailable') return text.llmUnavailable;
    if (code === 'embeddings_unavailable') return text.searchUnavailable;
    if (code === 'session_expired') return text.sessionExpired;
    if (code === 'payload_too_large' || status === 413) return text.tooLong;
    if (code === 'origin_not_allowed' || status === 401 || status === 403) return text.unreachable;
    return text.failed;
  }
  // An HTTP error as an Error: the server's message when it sent one (it may be localised for
  // the request's Accept-Language), else ours for its code.
  function problem(response) {
    var fail = function (error) {
      var err = new Error((error && error.message) || localError(error && error.code, response.status));
      err.status = response.status;
      err.code = error && error.code;
      throw err;
    };
    return response.json().then(function (body) { return fail(body && body.error); }, function () { return fail(null); });
  }
  // A request that got no response at all: the network, or a page origin the key does not allow.
  function unreachable() {
    return nav.onLine === false ? text.offline : text.unreachable;
  }
  function identityToken() {
    if (!identity) return Promise.resolve(null);
    if (typeof identity.getToken === 'function') return Promise.resolve(identity.getToken());
    return Promise.resolve(identity.token || null);
  }
  function session(force) {
    var now = Date.now() / 1000;
    if (!force && state.session && state.session.expiresAt - 30 > now) return Promise.resolve(state.session.token);
    return identityToken().then(function (jwt) {
      var body = { key: config.key };
      if (jwt) body.identity = jwt;
      else if (state.session) body.resume = state.session.token;
      return post('session', body).then(function (response) {
        if (!response.ok) return problem(response);
        return response.json();
      });
    }).then(function (created) {
      var user = created.anonymous ? null : created.user;
      if (user !== state.user && state.messages.length && (state.user || user)) {
        // Another employee signed in on this tab: their conversation is not this one.
        state.messages = [];
        state.conversationId = null;
        renderAll();
      }
      state.user = user;
      state.session = { token: created.token, expiresAt: created.expires_at };
      save();
      return created.token;
    });
  }

  // Reads `data: …` frames of an SSE response body and hands each parsed chunk to `onChunk`.
  function readStream(response, onChunk) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    function pump() {
      return reader.read().then(function (result) {
        if (result.done) return;
        buffer += decoder.decode(result.value, { stream: true });
        var frames = buffer.split(/\r?\n\r?\n/);
        buffer = frames.pop();
        for (var f = 0; f < frames.length; f++) {
          var payload = frames[f].split(/\r?\n/).filter(function (l) { return l.indexOf('data:') === 0; })
            .map(function (l) { return l.slice(5).replace(/^ /, ''); }).join('\n');
          if (!payload) continue; // keep-alive comments
          if (payload === '[DONE]') return;
          onChunk(JSON.parse(payload));
        }
        return pump();
      });
    }
    return pump();
  }

  function ask(question) {
    state.messages.push({ role: 'user', text: question });
    save();
    log.appendChild(renderMessage(state.messages[state.messages.length - 1], state.messages.length - 1));
    var answer = { role: 'assistant', text: '', sources: [], messageId: null, rating: null };
    var bubble = el('div', { class: 'bubble streaming' }, [el('p', { class: 'typing', text: text.thinking })]);
    draft.textContent = '';
    draft.appendChild(el('div', { class: 'message assistant' }, [bubble]));
    scrollDown();
    var controller = new AbortController();
    setBusy(controller);
    var paint = function () {
      bubble.textContent = '';
      bubble.appendChild(markdown(answer.text, function () { return null; }));
      scrollDown();
    };
    var attempt = function (retry) {
      return session(retry).then(function (token) {
        return post('chat', { message: question, conversation_id: state.conversationId }, token, controller.signal);
      }).then(function (response) {
        if (response.status === 401 && !retry) return attempt(true);
        if (!response.ok) return problem(response);
        return readStream(response, function (chunk) {
          switch (chunk.type) {
            case 'start':
              answer.messageId = chunk.messageId;
              if (chunk.messageMetadata && chunk.messageMetadata.conversationId) state.conversationId = chunk.messageMetadata.conversationId;
              break;
            case 'text-delta':
              answer.text += chunk.delta;
              paint();
              break;
            case 'source-url':
            case 'source-document':
              var meta = (chunk.providerMetadata && chunk.providerMetadata.ragway) || {};
              answer.sources.push({ n: meta.n || Number(chunk.sourceId), title: chunk.title || chunk.filename || chunk.url,
                url: chunk.url || null, section: meta.section || '', page: meta.page || null });
              break;
            case 'error':
              answer.error = chunk.errorText || text.failed;
              break;
          }
        });
      });
    };
    attempt(false).catch(function (err) {
      if (err && err.name === 'AbortError') answer.stopped = true;
      // A fetch that fails outright (network, or a page origin the widget key does not allow).
      else if (err && err.status === undefined) answer.error = unreachable();
      else answer.error = (err && err.message) || text.failed;
    }).then(function () {
      setBusy(null);
      draft.textContent = '';
      state.messages.push(answer);
      save();
      // Only the finished answer enters the log, so screen readers announce it once, whole.
      log.appendChild(renderMessage(answer, state.messages.length - 1));
      scrollDown();
    });
  }

  function abort() {
    if (busy) busy.abort();
    input.focus();
  }

  function feedback(message, rating, status) {
    session(false).then(function (token) {
      return post('feedback', { message_id: message.messageId, rating: rating }, token);
    }).then(function (response) {
      if (!response.ok) return problem(response);
      message.rating = rating;
      save();
      var node = log.querySelector('[data-message-id="' + message.messageId + '"]');
      if (node) {
        node.querySelectorAll('.rate').forEach(function (b) {
          b.setAttribute('aria-pressed', String(b.classList.contains(rating)));
        });
      }
      status.textContent = text.thanks;
    }).catch(function (err) {
      if (err && err.status === undefined) status.textContent = unreachable();
      else status.textContent = (err && err.message) || text.feedbackFailed;
    });
  }

  function reset() {
    if (busy) busy.abort();
    state.messages = [];
    state.conversationId = null;
    save();
    renderAll();
    input.focus();
  }

  // ---- public commands ----
  var commands = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    toggle: function () { setOpen(!state.open); },
    reset: reset,
    identify: function (options) {
      identity = options || null;
      state.session = null; // the next request starts a session for this employee
      save();
    }
  };
  function run(args) {
    var command = commands[args[0]];
    if (command) command.apply(null, Array.prototype.slice.call(args, 1));
    else if (w.console) w.console.warn('ragway: unknown command', args[0]);
  }
  var ragway = function () { run(arguments); };
  ragway.loaded = true;
  ragway.ready = true;
  ragway.config = config;
  w.Ragway = ragway;

  function mount() {
    d.body.appendChild(host);
    renderAll();
    (loader.q || []).forEach(run);
    if (state.open || data.open === 'true') setOpen(true, true);
  }
  if (d.body) mount();
  else d.addEventListener('DOMContentLoaded', mount);
})();
